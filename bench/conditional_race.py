"""Does an S3 server honour `If-None-Match: *` atomically? Version allocation relies on it.

    python bench/conditional_race.py ENDPOINT ACCESS_KEY SECRET_KEY [ROUNDS]

Each round, 16 threads released by a barrier race a conditional create of one new key.
Reports rounds with more than one success (must be 0) and rounds whose stored body is not
the winner's (must be 0). Measured (2026-11-22, 200 rounds): SeaweedFS 4.48 0 and 0 (the
losers wait ~1 s for their 412, so the run takes ~10 min); Ceph RGW 16.2 0 and 0 (16 s).
"""

from __future__ import annotations

import collections
import sys
import threading
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

THREADS = 16


def main() -> int:
    endpoint, access_key, secret_key = sys.argv[1:4]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    config = Config(s3={"addressing_style": "path"}, max_pool_connections=THREADS,
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required", retries={"max_attempts": 1})
    clients = [boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access_key,
                            aws_secret_access_key=secret_key, region_name="us-east-1",
                            config=config) for _ in range(THREADS)]
    bucket = f"race-{uuid.uuid4().hex[:8]}"
    clients[0].create_bucket(Bucket=bucket)
    several_winners = wrong_body = 0
    outcomes: collections.Counter[str] = collections.Counter()
    for number in range(rounds):
        key, barrier, winners = f"obj-{number}", threading.Barrier(THREADS), []

        def race(writer: int, key: str = key, barrier: threading.Barrier = barrier,
                 winners: list[int] = winners) -> None:
            barrier.wait()
            try:
                clients[writer].put_object(Bucket=bucket, Key=key, IfNoneMatch="*",
                                           Body=f"writer-{writer}".encode())
                winners.append(writer)
                outcomes["200"] += 1
            except ClientError as error:
                outcomes[str(error.response["ResponseMetadata"]["HTTPStatusCode"])] += 1

        threads = [threading.Thread(target=race, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        several_winners += len(winners) > 1
        body = clients[0].get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        wrong_body += len(winners) == 1 and body != f"writer-{winners[0]}"
    print(f"rounds={rounds} several_winners={several_winners} wrong_body={wrong_body} "
          f"outcomes={dict(outcomes)}")
    return 1 if several_winners or wrong_body else 0


if __name__ == "__main__":
    sys.exit(main())
