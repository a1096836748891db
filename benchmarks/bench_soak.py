"""
Soak: the demo bag replayed in a loop at 30 fps through the node processes, minute by minute.

reaction_node and face_display_node run as their own processes (as the launch file starts
them) and the bag player as a third, restamping every loop (live stamps). This process does
not subscribe to the camera (a third reader of 27 MB/s would load the 2 cores it measures): it
counts the reactions answered (a raw subscription: only header stamps are read), reads
reaction_node's own counts from /diagnostics (frames received, processed, dropped by the
newest-frame policy, rejected) and samples reaction_node's resident memory. Per minute it
prints frames received and answered, the stamp-to-reaction latency p50 / p99 and the RSS; at
the end, the player's published count, the totals and the RSS growth after the first minute
(the warm-up: lazy set-up, allocator pools).

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
import re
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from react_ros.bag import dds_environment
from react_ros.bag.make_bag import make_demo_bag
from react_ros.bag.msg_types import read_header_stamp
from react_ros.nodes.common import pipeline_reports
from react_ros.resources import default_config_path
from react_ros.support.harness import (bring_up, LifecycleClient, NodeProcess, start_nodes,
                                       wait_until)
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import JointState
from tqdm import tqdm

IMAGE_TOPIC = '/image'  # how the player's summary names the camera topic
COEFFICIENTS_TOPIC = '/reaction/coefficients'
RSS_PERIOD_S = 5.0


class SoakCounter:
    """Reactions answered (receive time, stamp) and reaction_node's /diagnostics counts."""

    def __init__(self, node):
        self.lock = threading.Lock()
        self.answered = []  # (receive ns, stamp ns)
        self.reports = []  # (receive ns, reaction_node's /diagnostics values)
        self._subs = [
            node.create_subscription(JointState, COEFFICIENTS_TOPIC, self._answered, 100,
                                     raw=True),
            node.create_subscription(DiagnosticArray, '/diagnostics', self._report, 10)]

    def _answered(self, raw):
        received = time.time_ns()
        with self.lock:
            self.answered.append((received, read_header_stamp(raw)))

    def _report(self, msg):
        received = time.time_ns()
        with self.lock:
            self.reports += [(received, report) for report in pipeline_reports([msg])]

    def count_at(self, key: str, when_ns: int) -> int:
        """Return reaction_node's cumulative count `key` in the last report before when_ns."""
        with self.lock:
            values = [int(report[key]) for received, report in self.reports
                      if received <= when_ns]
        return values[-1] if values else 0


def rss_mb(pid: int) -> float:
    """Return a process's resident set size in MB (Linux /proc)."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return math.nan


def minute_rows(counter: SoakCounter, rss: list, start_ns: int, minutes: int) -> list:
    """Return one dict per minute: frames received, dropped, answered; latency; RSS at its end."""
    with counter.lock:
        answered = np.array(counter.answered, np.int64).reshape(-1, 2)
    rows = []
    for minute in range(minutes):
        low, high = start_ns + minute * 60_000_000_000, start_ns + (minute + 1) * 60_000_000_000
        mine = answered[(answered[:, 1] >= low) & (answered[:, 1] < high)]
        latency_ms = (mine[:, 0] - mine[:, 1]) / 1e6 if len(mine) else np.array([math.nan])
        memory = [mb for when, mb in rss if low <= when < high]
        rows.append({
            'minute': minute + 1,
            'received': counter.count_at('frames_received', high)
            - counter.count_at('frames_received', low),
            'dropped': counter.count_at('frames_dropped', high)
            - counter.count_at('frames_dropped', low),
            'answered': len(set(mine[:, 1].tolist())),
            'latency_p50_ms': float(np.percentile(latency_ms, 50)),
            'latency_p99_ms': float(np.percentile(latency_ms, 99)),
            'rss_mb': memory[-1] if memory else math.nan})
    return rows


def format_rows(rows: list) -> str:
    """Return the per-minute table."""
    lines = ['minute  received  dropped  answered  latency p50  p99 (ms)  '
             'reaction_node RSS (MB)']
    for row in rows:
        lines.append(f'{row["minute"]:>6}  {row["received"]:>8}  {row["dropped"]:>7}  '
                     f'{row["answered"]:>8}  {row["latency_p50_ms"]:11.1f}  '
                     f'{row["latency_p99_ms"]:8.1f}  {row["rss_mb"]:10.1f}')
    return '\n'.join(lines)


def published_images(player_output: str) -> int:
    """Return the camera frames the player says it published (its summary line)."""
    found = re.search(rf'{IMAGE_TOPIC}: (\d+)', player_output)
    if not found:
        raise RuntimeError(f'the player printed no summary:\n{player_output[-2000:]}')
    return int(found.group(1))


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
    with Reader(args.bag) as reader:
        bag_s = reader.duration / 1e9
    loops = math.ceil(args.minutes * 60 / bag_s)
    os.environ.update(dds_environment(random.randint(1, 100)))
    env = dict(os.environ)
    nodes = start_nodes(env, default_config_path('react.yaml'), args.out)
    rclpy.init()
    node = rclpy.create_node('soak_counter')
    counter = SoakCounter(node)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    rss, player = [], None
    try:
        bring_up(LifecycleClient(node, 'reaction_node'), 120.0)
        player = NodeProcess(['react_ros', 'play', str(args.bag), '--loops', str(loops),
                              '--topics', '/image', '/audio', '/audio_info',
                              '--wait-subscribers', '60'], env, args.out / 'player.log')
        if not wait_until(lambda: counter.answered, 120):
            raise RuntimeError(f'no reactions within 120 s; see the logs in {args.out}')
        start_ns = counter.answered[0][1]
        with tqdm(total=round(loops * bag_s), unit='s', desc='soak') as progress:
            while player.running():
                rss.append((time.time_ns(), rss_mb(nodes[0].process.pid)))
                time.sleep(RSS_PERIOD_S)
                progress.update(RSS_PERIOD_S)
        time.sleep(2.0)  # the last reactions and a last /diagnostics report
        sent = published_images(player.output())
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
    answered = len({stamp for _, stamp in counter.answered})
    received = counter.count_at('frames_received', time.time_ns())
    growth = (rows[-1]['rss_mb'] - rows[0]['rss_mb']) / rows[0]['rss_mb']
    print(f'total: the player published {sent} frames, reaction_node received {received} '
          f'(dropped {counter.count_at("frames_dropped", time.time_ns())} for newer ones, '
          f'rejected {counter.count_at("bad_frames", time.time_ns())}), {answered} answered '
          f'({100 * answered / sent:.2f} %); reaction_node RSS {rows[0]["rss_mb"]:.1f} MB after '
          f'minute 1, {rows[-1]["rss_mb"]:.1f} MB at the end ({100 * growth:+.2f} %)')
    if args.json:
        args.json.write_text(json.dumps({'rows': rows, 'published': sent, 'received': received,
                                         'answered': answered, 'rss_growth': growth},
                                        indent=2))
    met = answered >= 0.999 * sent and growth < 0.05
    print(f'targets (>= 99.9 % answered, RSS growth < 5 % after minute 1): '
          f'{"met" if met else "NOT met"}')
    return 0 if met else 1


if __name__ == '__main__':
    raise SystemExit(main())
