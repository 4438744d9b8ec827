"""The CloudCore document's "Python SDK Example", as the document prints it.

Kept word for word (tests/sdk/test_document_example_text.py compares it with the document
where the documents are on the machine); the SDK tests run it with only the server's
address and the API key substituted.
"""

from __future__ import annotations

DOCUMENT_URL = "http://3.70.53.21:5000"
DOCUMENT_KEY = "your-api-key"
FIRST_LINE = 646  # of the CloudCore document, `001_…`

EXAMPLE = """\
from kubeedge_cloudcore import CloudCoreClient

# Initialize client
client = CloudCoreClient(
    base_url="http://3.70.53.21:5000",
    api_key="your-api-key"
)

# List devices
devices = client.list_devices()
print(f"Total devices: {len(devices)}")

# Join new device
result = client.join_device(
    node_name="edge-node-001",
    device_id="camera-001",
    device_type="camera"
)
print(f"Join command: {result['join_command']}")

# Send command
response = client.send_command(
    device_id="camera-001",
    command="capture_image",
    parameters={"resolution": "1920x1080"}
)
print(f"Command ID: {response['command_id']}")

# Real-time monitoring
for event in client.monitor_stream():
    print(f"Event: {event['event']} from {event['node_name']}")
"""


def substituted(*, url: str, api_key: str) -> str:
    """The example pointed at `url` with `api_key`; nothing else changed."""
    assert EXAMPLE.count(DOCUMENT_URL) == 1
    assert EXAMPLE.count(DOCUMENT_KEY) == 1
    return EXAMPLE.replace(DOCUMENT_URL, url).replace(DOCUMENT_KEY, api_key)
