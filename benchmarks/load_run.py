"""Load run: many concurrent requests through the client library, with injected faults.

Starts `outeai serve` (tone engine) with transient faults on a share of requests, then sends
N requests with C threads through one TTSClient. Every request must end with audio identical
to the clean reference for its text, or with a clear typed error; none may hang. Prints the
counts and exits non-zero if any request hung, crashed or returned wrong audio.

    python benchmarks/load_run.py                 # 500 requests, concurrency 32, 10% faults
    python benchmarks/load_run.py -n 100 -c 8
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait

from _serving import start_server  # benchmarks/_serving.py (scripts run from here)

from outeai_cli import OuteAIError, TTSClient
from outeai_cli.http.retry import RetryPolicy

TEXTS = [f"Load test sentence number {i}. It has two parts." for i in range(8)]
# 10% of requests get one transient fault, spread over the kinds a client must survive.
FAULTS = ["http-503:3%", "http-429:2%", "http-502:2%", "drop-mid-stream:2%", "drop-in-audio:1%"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=500)
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("--deadline", type=float, default=300, help="seconds for the whole run")
    options = parser.parse_args()

    clean, clean_url = start_server()
    try:
        with TTSClient("load", base_url=clean_url) as client:
            reference = {text: client.generate(text).audio_bytes for text in TEXTS}
    finally:
        clean.terminate()
        clean.wait()

    faults = [arg for spec in FAULTS for arg in ("--fault", spec)]
    server, url = start_server(*faults, "--fault-seed", "42")
    outcomes: collections.Counter[str] = collections.Counter()
    policy = RetryPolicy(retries=3, base_delay=0.05, max_delay=0.5, max_retry_after=1.0)
    started = time.monotonic()
    try:
        with TTSClient("load", base_url=url, retry_policy=policy, timeout=30) as client:

            def one(index: int) -> str:
                text = TEXTS[index % len(TEXTS)]
                try:
                    audio = client.generate(text).audio_bytes
                except OuteAIError as exc:
                    return f"error ({type(exc).__name__}): {exc.message[:60]}"
                return "ok" if audio == reference[text] else "WRONG AUDIO"

            with ThreadPoolExecutor(options.concurrency) as pool:
                futures = [pool.submit(one, i) for i in range(options.requests)]
                done, pending = wait(futures, timeout=options.deadline)
                for future in done:
                    outcomes[future.result()] += 1
                outcomes["HUNG"] += len(pending)
                for future in pending:
                    future.cancel()
    finally:
        server.terminate()
        server.wait()
    elapsed = time.monotonic() - started

    print(
        f"{options.requests} requests, concurrency {options.concurrency}, faults {', '.join(FAULTS)}"
    )
    for outcome, count in outcomes.most_common():
        print(f"  {count:5d}  {outcome}")
    print(f"elapsed {elapsed:.1f} s, {options.requests / elapsed:.1f} requests/s")
    bad = outcomes["HUNG"] + outcomes["WRONG AUDIO"]
    print("PASS" if bad == 0 else f"FAIL: {bad} requests hung or returned wrong audio")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
