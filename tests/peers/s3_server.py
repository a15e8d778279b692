"""An S3-protocol server on loopback for the cold-store tests (tests/integration/cold_s3.rs).

Usage: s3_server.py BUCKET...
Starts moto's S3 server on 127.0.0.1 with an OS-chosen port, creates each BUCKET, prints
`s3 listening on http://127.0.0.1:PORT` and serves until stdin closes or the process is killed.
moto honours conditional PUTs (`If-None-Match: *` -> 412), which the Delta commits rely on.
"""

import sys

import boto3
from moto.server import ThreadedMotoServer


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    for bucket in sys.argv[1:]:
        client.create_bucket(Bucket=bucket)
    print(f"s3 listening on {url}", flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
