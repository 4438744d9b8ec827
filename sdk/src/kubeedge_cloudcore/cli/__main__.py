from kubeedge_cloudcore.cli import main

main()
