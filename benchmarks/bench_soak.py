"""
Soak: the demo bag replayed in a loop at 30 fps through the node processes, minute by minute.

reaction_node and face_display_node run as their own processes (as the launch file starts
them) and the bag player as a third, restamping every loop (live stamps); this process counts
the camera frames sent (those it saw, plus any answered that it missed) and the reactions
answered (raw subscriptions: only the header stamps are read) and samples reaction_node's
resident memory. Per minute it prints frames sent and
answered, the stamp-to-reaction latency p50 / p99 and the RSS; at the end, the totals and the
RSS growth after the first minute (the warm-up: lazy set-up, allocator pools).

    .venv/bin/python benchmarks/bench_soak.py [--minutes 10] [--bag out/demo_bag]
        [--out /tmp/react_soak] [--json soak.json]

Run it on a quiet machine: the nodes need most of 2 cores at 30 fps.
"""

import argparse
import json
import math
import os
from pathlib import Path
import random
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from react_ros.bag import dds_environment
from react_ros.bag.make_bag import make_demo_bag
from react_ros.bag.msg_types import read_header_stamp
from react_ros.bag.player import publisher_qos
from react_ros.nodes.common import pipeline_reports
from react_ros.resources import default_config_path
from react_ros.support.harness import (bring_up, LifecycleClient, NodeProcess, start_nodes,
                                       wait_until)
from sensor_msgs.msg import Image, JointState
from tqdm import tqdm

IMAGE_TOPIC = '/image'
COEFFICIENTS_TOPIC = '/reaction/coefficients'
RSS_PERIOD_S = 5.0


class StampCounter:
    """Raw subscriptions that keep (receive time, header stamp) of each message, nothing else."""

    def __init__(self, node):
        self.lock = threading.Lock()
        self.sent, self.answered = [], []  # (receive ns, stamp ns)
        self._subs = [
            node.create_subscription(Image, IMAGE_TOPIC, self._keep(self.sent),
                                     publisher_qos('sensor_msgs/msg/Image'), raw=True),
            node.create_subscription(JointState, COEFFICIENTS_TOPIC, self._keep(self.answered),
                                     100, raw=True),
            node.create_subscription(DiagnosticArray, '/diagnostics', self._report, 10)]
        self.report = {}  # reaction_node's latest /diagnostics values

    def _report(self, msg):
        for report in pipeline_reports([msg]):
            self.report = report

    def _keep(self, into):
        def callback(raw):
            received = time.time_ns()
            with self.lock:
                into.append((received, read_header_stamp(raw)))
        return callback


def rss_mb(pid: int) -> float:
    """Return a process's resident set size in MB (Linux /proc)."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return math.nan


def minute_rows(counter: StampCounter, rss: list, start_ns: int, minutes: int) -> list:
    """Return one dict per minute: frames sent and answered, latency p50/p99, RSS at its end."""
    with counter.lock:
        # Sent: what this process saw on the camera topic, plus any frame answered that it
        # missed (best-effort images can be lost on the way to either subscriber).
        sent = np.union1d([stamp for _, stamp in counter.sent],
                          [stamp for _, stamp in counter.answered]).astype(np.int64)
        answered = np.array(counter.answered, np.int64).reshape(-1, 2)
    rows = []
    for minute in range(minutes):
        low, high = start_ns + minute * 60_000_000_000, start_ns + (minute + 1) * 60_000_000_000
        sent_in_minute = np.count_nonzero((sent >= low) & (sent < high))
        mine = answered[(answered[:, 1] >= low) & (answered[:, 1] < high)]
        latency_ms = (mine[:, 0] - mine[:, 1]) / 1e6 if len(mine) else np.array([math.nan])
        memory = [mb for when, mb in rss if low <= when < high]
        rows.append({'minute': minute + 1, 'sent': sent_in_minute,
                     'answered': len(set(mine[:, 1].tolist())),
                     'latency_p50_ms': float(np.percentile(latency_ms, 50)),
                     'latency_p99_ms': float(np.percentile(latency_ms, 99)),
                     'rss_mb': memory[-1] if memory else math.nan})
    return rows


def format_rows(rows: list) -> str:
    """Return the per-minute table."""
    lines = ['minute  sent   answered  share     latency p50  p99 (ms)  reaction_node RSS (MB)']
    for row in rows:
        share = row['answered'] / row['sent'] if row['sent'] else math.nan
        lines.append(f'{row["minute"]:>6}  {row["sent"]:>5}  {row["answered"]:>8}  '
                     f'{100 * share:7.2f} %  {row["latency_p50_ms"]:11.1f}  '
                     f'{row["latency_p99_ms"]:8.1f}  {row["rss_mb"]:10.1f}')
    return '\n'.join(lines)


def main() -> int:
    """Run the soak; print the table; return 0 when it meets issue 12's targets."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--minutes', type=int, default=10)
    parser.add_argument('--bag', type=Path, default=Path('out/demo_bag'))
    parser.add_argument('--out', type=Path, default=Path('/tmp/react_soak'))
    parser.add_argument('--json', type=Path, help='also write the rows and totals here')
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.bag.exists():
        print(make_demo_bag(args.bag, duration_s=20.0).describe())
    os.environ.update(dds_environment(random.randint(1, 100)))
    env = dict(os.environ)
    nodes = start_nodes(env, default_config_path('react.yaml'), args.out)
    rclpy.init()
    node = rclpy.create_node('soak_counter')
    counter = StampCounter(node)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    rss, player = [], None
    try:
        bring_up(LifecycleClient(node, 'reaction_node'), 120.0)
        if not wait_until(lambda: node.count_subscribers(IMAGE_TOPIC) >= 2, 60):
            raise RuntimeError(f'reaction_node did not subscribe to {IMAGE_TOPIC}')
        bag_s = 20.0  # the demo bag's length; a few loops too many are stopped below
        loops = math.ceil(args.minutes * 60 / bag_s) + 1
        player = NodeProcess(['react_ros', 'play', str(args.bag), '--loops', str(loops),
                              '--topics', '/image', '/audio', '/audio_info',
                              '--wait-subscribers', '60'], env, args.out / 'player.log')
        assert wait_until(lambda: counter.sent, 90), 'the player sent no frames'
        start_ns = counter.sent[0][1]
        end = time.monotonic() + args.minutes * 60
        with tqdm(total=args.minutes * 60, unit='s', desc='soak') as progress:
            while time.monotonic() < end and player.running():
                rss.append((time.time_ns(), rss_mb(nodes[0].process.pid)))
                time.sleep(RSS_PERIOD_S)
                progress.update(RSS_PERIOD_S)
        time.sleep(2.0)  # the last reactions in flight
    finally:
        if player is not None:
            player.stop()
        for process in nodes:
            process.stop()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    rows = minute_rows(counter, rss, start_ns, args.minutes)
    print(format_rows(rows))
    sent, answered = sum(r['sent'] for r in rows), sum(r['answered'] for r in rows)
    growth = (rows[-1]['rss_mb'] - rows[0]['rss_mb']) / rows[0]['rss_mb']
    print(f'total: {answered} of {sent} frames answered ({100 * answered / sent:.2f} %); '
          f'reaction_node RSS {rows[0]["rss_mb"]:.1f} MB after minute 1, '
          f'{rows[-1]["rss_mb"]:.1f} MB at the end ({100 * growth:+.2f} %)')
    report = counter.report
    print('reaction_node counted: ' + ', '.join(
        f'{key} {report.get(key)}' for key in ('frames_received', 'frames_processed',
                                               'frames_dropped', 'bad_frames',
                                               'bad_audio_chunks', 'worker_restarts')))
    if args.json:
        args.json.write_text(json.dumps({'rows': rows, 'sent': sent, 'answered': answered,
                                         'rss_growth': growth}, indent=2))
    met = answered >= 0.999 * sent and growth < 0.05
    print(f'targets (>= 99.9 % answered, RSS growth < 5 % after minute 1): '
          f'{"met" if met else "NOT met"}')
    return 0 if met else 1


if __name__ == '__main__':
    raise SystemExit(main())
