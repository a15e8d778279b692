"""RFC 8785 canonical JSON by an independent implementation (the `rfc8785` package from PyPI),
for tests/integration/jcs_peer.rs: one JSON document per stdin line; per line, prints the hex of
the canonical UTF-8 bytes, or `error:<ExceptionName>` when the document cannot be
canonicalized (an integer outside the IEEE 754 exact range, a non-finite number)."""
import json
import sys

import rfc8785


def main() -> None:
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        try:
            doc = json.loads(line)
            out = rfc8785.dumps(doc).hex()
        except Exception as e:  # noqa: BLE001 - the error's name is the answer
            out = "error:" + type(e).__name__
        print(out, flush=True)


if __name__ == "__main__":
    main()
