"""Drive opi from another program over `opi --mode rpc` (docs/rpc.md): stream a reply, then ask for stats.

Usage: python examples/rpc_client.py [opi options...]   (e.g. --model provider/id)
"""

import itertools
import json
import subprocess
import sys

opi = subprocess.Popen([sys.executable, "-m", "opi_cli", "--mode", "rpc", *sys.argv[1:]],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
ids = itertools.count(1)


def send(kind, **params):
    """Write one command line; returns its id."""
    cid = next(ids)
    opi.stdin.write(json.dumps({"id": cid, "type": kind, **params}) + "\n")
    opi.stdin.flush()
    return cid


def read_until(done):
    """Print streamed text as it comes; return the first line for which done(line) is true."""
    for raw in opi.stdout:
        line = json.loads(raw)
        event = line.get("assistantMessageEvent", {})
        if event.get("type") == "text_delta":
            print(event["delta"], end="", flush=True)
        if done(line):
            return line
    sys.exit("opi ended early")


prompt = send("prompt", message="List the files here, briefly.")
if not (answer := read_until(lambda line: line.get("id") == prompt))["success"]:
    sys.exit(answer["error"])
read_until(lambda line: line["type"] == "agent_end")
stats = send("get_session_stats")
data = read_until(lambda line: line.get("id") == stats)["data"]
print(f"\n{data['assistantMessages']} replies, {data['toolCalls']} tool calls, {data['tokens']['total']} tokens")
opi.stdin.close()
sys.exit(opi.wait())
