"""Calls under load through a real SIP trunk: the application against Asterisk's own VoiceMail().

    nice .venv/bin/python bench/load.py --calls 50,200,500 [--scenario deposit|mixed]
        [--rate CPS] [--prompt-set short|std] [--json FILE] [--markdown FILE]
    nice .venv/bin/python bench/load.py --calls 10,30 --scenario follow [--ring-seconds 5]

For each N it places N simultaneous calls with SIPp (as the carrier, into the pbx of a sandbox of
its own), first into the application (``reconnect-pbx serve``), then the same calls into Asterisk's
native voicemail on the same pbx, and prints one line per phase and a Markdown table: CPU per call
(application, Asterisk, PostgreSQL), StasisStart -> first prompt, INVITE -> 200 OK, failed calls,
messages stored and not silent, database transactions per call. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import pg  # noqa: E402  (tests/pg.py)

from loadbench import follow  # noqa: E402
from loadbench.run import Bench, BenchConfig, markdown, save_json, summary  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="50,200,500", help="comma-separated N (simultaneous calls)")
    parser.add_argument("--scenario", choices=("deposit", "mixed", "follow"), default="deposit",
                        help="mixed: 20%% of the calls log in and listen to a message;"
                        " follow: each deposit first rings the person's phone, which never answers (loadbench/follow.py)")
    parser.add_argument("--ring-seconds", type=int, default=5, help="follow: how long the phone rings")
    parser.add_argument("--rate", type=float, default=None, help="calls per second (default N/5)")
    parser.add_argument("--speech-seconds", type=float, default=10.0)
    parser.add_argument("--prompt-set", default="short", choices=("short", "std"))
    parser.add_argument("--octet", type=int, default=20, help="sandbox slot: carrier 127.0.0.<octet>, pbx next")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep SIPp files and serve.log here")
    parser.add_argument("--targets", default="app,native", help="phases per N: app, native or both")
    parser.add_argument("--no-observer", action="store_true",
                        help="no ARI observer subscribed to everything (no latency figures): what it costs Asterisk")
    parser.add_argument("--profile", action="store_true", help="py-spy record serve during the application phases")
    parser.add_argument("--repeat", type=int, default=1,
                        help="phases per N and target, alternated; a summary of medians follows the table")
    parser.add_argument("--native-format", default="wav",
                        help="voicemail.conf format of the native boxes (Asterisk's sample: wav49|gsm|wav)")
    parser.add_argument("--profile-rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--perf-asterisk", action="store_true",
                        help="perf record the pbx's Asterisk during every phase (asterisk.perf.data in the work dir)")
    parser.add_argument("--serve-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for serve (e.g. RECONNECT_LOGGING_LEVEL=WARNING), repeatable")
    parser.add_argument("--serve-nice", type=int, default=0, metavar="DELTA",
                        help="added to serve's niceness (e.g. -5: ahead of Asterisk, as Nice= in its systemd unit)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> int:
    config = BenchConfig(
        sizes=[int(n) for n in args.calls.split(",") if n.strip()],
        scenario=args.scenario,
        rate=args.rate,
        speech_seconds=args.speech_seconds,
        prompt_set=args.prompt_set,
        octet=args.octet,
        sandbox_name="bench" if args.octet == 20 else f"bench{args.octet}",
        work_dir=args.work_dir,
        profile=args.profile,
        profile_rate=args.profile_rate,
        repeat=max(1, args.repeat),
        native_format=args.native_format,
        perf_asterisk=args.perf_asterisk,
        observe=not args.no_observer,
        serve_env=dict(item.split("=", 1) for item in args.serve_env),
        serve_nice=args.serve_nice,
        targets=tuple(t for t in args.targets.split(",") if t in ("app", "native")),
        ring_seconds=args.ring_seconds,
    )
    with pg.available_server() as server:
        bench = Bench(config, server)
        try:
            await bench.setup()
            print(f"bench files in {bench.work}", flush=True)
            results = await bench.run()
        finally:
            await bench.close()
    table = markdown(results, bench.machine, config)
    if config.repeat > 1 or len(config.targets) > 1:
        table += "\n" + summary(results)
    if config.scenario == follow.SCENARIO:
        table += "\n" + follow.table(results, config.ring_seconds)
    print()
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    if args.json:
        save_json(args.json, results, bench.machine, config)
    failed = sum(r.sipp_failed + (r.deposits - r.stored) + r.silent for r in results)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
