"""Fleet monitoring (API): metrics of both contracts."""
