"""A simulated day, driven through the real HTTP API of a running Dispatch (see scripts/demo).

Sales arrive in four cities (Nanjing speaks Mandarin); providers close their orders, some honestly, some falsely claiming
"customer not home"; the robot calls (the built-in simulated phone network answers, through the
same signed webhooks Twilio would use), texts those it cannot reach, and hands the rest to the
callback team, played here too. It ends with a summary (callbacks by outcome, contradictions per
provider) and one table, an order a row: the provider's claim, what really happened, the verdict
and the complaint, in plain words. The system must run with short callback timings: DEMO_ENV below
(scripts/run --demo sets them).

The simulated customers behave by the last digit of their number (dispatch/telephony/simulator.py):
the day's customers are chosen so that each kind of story happens once or twice.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from wcwidth import wcswidth

# Callback timings for a demo that tells the whole story in a minute or two (fractional minutes).
DEMO_ENV = {
    "DISPATCH_CALLING_HOURS_START": "00:00",
    "DISPATCH_CALLING_HOURS_END": "24:00",
    "DISPATCH_CALLBACK_DELAY_NOT_HOME_MINUTES": "0.05",
    "DISPATCH_CALLBACK_DELAY_COMPLETED_MINUTES": "0.1",
    "DISPATCH_CALLBACK_DELAY_OTHER_MINUTES": "0.05",
    "DISPATCH_CALLBACK_RETRY_MINUTES": "0.1",
    "DISPATCH_CALLBACK_SMS_REPLY_MINUTES": "0.2",
    "DISPATCH_CALLBACK_CALL_TIMEOUT_MINUTES": "0.5",
    "DISPATCH_CALLBACK_MAX_AUTOMATED_ATTEMPTS": "2",
    "DISPATCH_CALLBACK_SWEEP_STALE_MINUTES": "0.2",
    "DISPATCH_SIMULATOR_ANSWER_SECONDS": "1",
}


@dataclass(frozen=True)
class Story:
    """One order of the day: where, what the provider claims, and who the customer is."""

    city: str
    name: str
    last_digit: str  # the simulated customer's persona
    outcome: str
    reason: str | None
    told: str  # what really happened, for the narrative


DAY = [
    Story("Springfield", "Mary Smith", "0", "completed", None, "installed; the customer is delighted"),
    Story(
        "Springfield",
        "Tom Reyes",
        "5",
        "not_completed",
        "customer_not_home",
        "nobody went; the provider blames the customer",
    ),
    Story("Springfield", "Ann Lee", "1", "not_completed", "customer_not_home", "the customer really was out"),
    Story("Springfield", "Raj Singh", "7", "completed", None, "installed; the customer only reads texts"),
    Story("Riverton", "Lena Park", "3", "completed", None, "installed; the customer is satisfied"),
    Story(
        "Riverton",
        "Omar Haddad",
        "5",
        "not_completed",
        "customer_not_home",
        "nobody went; the provider blames the customer",
    ),
    Story(
        "Riverton", "Ivy Chen", "2", "not_completed", "parts_missing", "the technician came without the valve"
    ),
    Story("Riverton", "Paul Duarte", "9", "completed", None, "installed; the customer texts STOP"),
    Story("Lakeside", "Sara Kim", "4", "completed", None, "installed badly; the customer is unhappy"),
    Story("Lakeside", "Joe Novak", "5", "completed", None, "reported done, but the work was never done"),
    Story("Lakeside", "Nina Ross", "8", "completed", None, "installed; only voicemail answers"),
    Story(
        "Lakeside",
        "Carl Webb",
        "6",
        "not_completed",
        "customer_not_home",
        "the customer had asked for another day",
    ),
    # Nanjing speaks Mandarin: the robot asks in Mandarin, these two answer in words.
    Story(
        "Nanjing",
        "王芳",
        "5",
        "not_completed",
        "customer_not_home",
        "nobody went; the customer says so in Mandarin",
    ),
    Story(
        "Nanjing",
        "李明",
        "3",
        "completed",
        None,
        "installed; the customer says in Mandarin they are satisfied",
    ),
]
CITIES = sorted({story.city for story in DAY})


class Client:
    """The API, as each demo user."""

    def __init__(self, base_url: str, tokens: dict[str, str]) -> None:
        self.base = base_url.rstrip("/")
        self.tokens = tokens
        self.http = requests.Session()

    def call(
        self, who: str, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201)
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        response = self.http.request(method, self.base + path, json=body, headers=headers, timeout=30)
        if response.status_code not in ok:
            raise SystemExit(f"{method} {path} as {who}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None


def read_tokens(path: Path) -> dict[str, str]:
    """The demo users' tokens from scripts/run's tokens file (name<TAB>token[<TAB>password] lines)."""
    tokens = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "\t" in line:
            name, token = line.split("\t")[:2]
            tokens[name.strip()] = token.strip()
    return tokens


def say(text: str = "") -> None:
    print(text, flush=True)


def phone_for(index: int, story: Story) -> str:
    """A fresh number for each customer of each run; its last digit picks the simulated persona."""
    block = (int(time.time()) // 20 * 17 + index * 83) % 1000
    if story.city == "Nanjing":
        return f"+86138{block:07d}{story.last_digit}"  # a mobile number in China
    return f"+1217555{block:03d}{story.last_digit}"


def run(base_url: str, tokens: dict[str, str], *, wait_seconds: float = 240.0) -> dict[str, Any]:
    """Drive one simulated day; returns the summary it printed."""
    api = Client(base_url, tokens)
    run_tag = datetime.now(UTC).strftime("%H%M%S")
    say("== A simulated day at the Dispatch call centre ==")
    say(
        f"Sales staff report {len(DAY)} sales in {len(CITIES)} cities ({', '.join(CITIES)}); providers close"
        " the orders; the robot checks each one, in each customer's language.\n"
    )
    orders: list[tuple[Story, dict]] = []
    for i, story in enumerate(DAY):
        sale = api.call(
            "demo-sales",
            "POST",
            "/api/v1/sales",
            {
                "shop": "Main St Appliances",
                "salesperson": "Jo Counter",
                "sold_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
                "customer": {
                    "name": story.name,
                    "phone": phone_for(i, story),
                    "address": f"{10 + i} Demo Street {run_tag}",
                    "city": story.city,
                },
                "items": [{"model": "EW-50", "delivery": True, "installation": True}],
            },
        )
        order = sale["work_orders"][0]
        orders.append((story, order))
        say(
            f"  sale    order {order['id']:>4}  {story.name:<12} {story.city:<11} -> {order['provider']['code']}"
        )

    say("\nProviders close their orders (what they claim):")
    installers: dict[str, int] = {}
    for story, order in orders:
        code = order["provider"]["code"]
        who = f"demo-provider-{code}"
        if code not in installers:
            installers[code] = api.call(who, "GET", "/api/v1/installers")[0]["id"]
        body: dict[str, Any] = {
            "outcome": story.outcome,
            "installer_id": installers[code],
            "visited_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        }
        if story.reason:
            body["reason"] = story.reason
        api.call(who, "POST", f"/api/v1/work-orders/{order['id']}/close", body)
        claim = story.reason or "completed"
        say(f"  close   order {order['id']:>4}  {code:<9} claims {claim:<18} (truth: {story.told})")

    say("\nThe robot calls each customer (simulated phones answer through the signed webhooks)...")
    seen: dict[int, str] = {}
    handled_by_team: set[int] = set()
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        pending = 0
        for story, order in orders:
            detail = api.call("demo-supervisor", "GET", f"/api/v1/work-orders/{order['id']}")
            callbacks = detail.get("verification") or []
            if not callbacks:
                pending += 1
                continue
            cb = callbacks[-1]
            status = cb["verdict"] or cb["state"]
            if seen.get(order["id"]) != status:
                seen[order["id"]] = status
                channels = "+".join(a["channel"] for a in cb["attempts"]) or "-"
                extra = f", rating {cb['rating']}" if cb.get("rating") else ""
                say(f"  order {order['id']:>4}  {story.name:<12} {status:<20} via {channels}{extra}")
            if cb["state"] not in ("resolved", "cancelled"):
                pending += 1
        # The callback team works its queue: it reaches the customers the robot could not.
        for item in api.call("demo-callback", "GET", "/api/v1/callbacks"):
            if item["id"] in handled_by_team:
                continue
            handled_by_team.add(item["id"])
            api.call("demo-callback", "POST", f"/api/v1/callbacks/{item['id']}/claim")
            happened = "done" if item.get("claim") == "completed" else "confirmed"
            api.call(
                "demo-callback",
                "POST",
                f"/api/v1/callbacks/{item['id']}/answer",
                {
                    "reached": True,
                    "happened": happened,
                    "rating": "satisfied",
                    "note": "reached by the callback team",
                },
            )
            say(
                f"  team    callback {item['id']:>4} (order {item['work_order_id']}): agent reached the customer"
            )
        if pending == 0:
            break
        time.sleep(2)
    return summary(api, orders)


# The summary table's words: a claim, a verdict, the state of a callback still under way.
CLAIM_WORDS = {
    "completed": "job done",
    "customer_not_home": "customer not home",
    "parts_missing": "parts missing",
    "customer_rescheduled": "customer asked for another time",
    "site_not_ready": "site not ready",
    "customer_refused": "customer refused",
    "wrong_address": "wrong address",
    "other": "another reason",
}
VERDICT_WORDS = {
    "confirmed": "customer confirmed it",
    "contradicted": "customer denied it",
    "customer_rescheduled": "customer had asked for another time",
    "unreachable": "customer not reached (proves nothing)",
}
TABLE_HEADER = [
    "Order",
    "Customer",
    "City",
    "Provider's claim",
    "What really happened",
    "Verdict",
    "Complaint",
]


def _width(text: str) -> int:
    """Columns a text takes in a terminal: a Chinese character takes two."""
    width = wcswidth(text)
    return width if width >= 0 else len(text)  # a control character: counted as one, never negative


def aligned(header: list[str], rows: list[list[str]]) -> list[str]:
    """A plain-text table whose columns line up in a terminal, also when cells hold Chinese."""
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(cells)).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(row) for row in rows)]


def outcome_row(story: Story, order: dict, callback: dict, complaints: list[dict]) -> list[str]:
    """One order's row: the claim, the truth, the verdict and the complaint, in plain words."""
    claim = story.reason or story.outcome
    verdict = callback.get("verdict")
    if verdict:
        said = VERDICT_WORDS.get(verdict, verdict.replace("_", " "))
    elif callback.get("state"):
        said = "still being checked (" + callback["state"].replace("_", " ") + ")"
    else:
        said = "no callback planned"
    mine = [c for c in complaints if c.get("work_order_id") == order["id"]]
    complaint = ", ".join(f"#{c['id']} held at headquarters" for c in mine) or "none"
    return [
        f"#{order['id']}",
        story.name,
        story.city,
        f"{order['provider']['code']}: {CLAIM_WORDS.get(claim, claim.replace('_', ' '))}",
        story.told,
        said,
        complaint,
    ]


def summary(api: Client, orders: list[tuple[Story, dict]]) -> dict[str, Any]:
    """Print and return: callbacks by outcome, contradictions per provider, and the day's table."""
    outcomes: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    per_provider: Counter[str] = Counter()
    checked: Counter[str] = Counter()
    last: list[dict] = []
    for _story, order in orders:
        detail = api.call("demo-supervisor", "GET", f"/api/v1/work-orders/{order['id']}")
        cb = (detail.get("verification") or [{}])[-1]
        last.append(cb)
        outcomes[cb.get("verdict") or cb.get("state") or "not planned"] += 1
        if cb.get("answer_channel"):
            channels[cb["answer_channel"]] += 1
        checked[order["provider"]["code"]] += 1
        if cb.get("verdict") == "contradicted":
            per_provider[order["provider"]["code"]] += 1
    complaints = api.call("demo-supervisor", "GET", "/api/v1/complaints?per_page=200")
    items = complaints["items"] if isinstance(complaints, dict) else complaints
    say("\n== Summary ==")
    say("Callbacks by outcome: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    say("Answered by: " + ", ".join(f"{k} {v}" for k, v in sorted(channels.items())))
    say("Contradictions per provider (claims the customer denied):")
    for code in sorted(checked):
        say(f"  {code:<10} {per_provider[code]} of {checked[code]} checked orders")
    say(f"\nThe day's {len(orders)} orders, each checked with its customer:")
    rows = [outcome_row(story, order, cb, items) for (story, order), cb in zip(orders, last, strict=True)]
    for text in aligned(TABLE_HEADER, rows):
        say("  " + text)
    say("\nEach denied claim reopened its order for a new visit and put the provider under review.")
    return {
        "orders": len(orders),
        "outcomes": dict(outcomes),
        "contradictions": dict(per_provider),
        "complaints": len([c for c in items if any(c.get("work_order_id") == o["id"] for _s, o in orders)]),
        "table": rows,
    }


def main(argv: list[str] | None = None) -> int:
    """scripts/demo: run the simulated day against DISPATCH_BASE_URL with DISPATCH_TOKENS_FILE."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("DISPATCH_BASE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--tokens", default=os.environ.get("DISPATCH_TOKENS_FILE", "var/demo-tokens.txt"))
    parser.add_argument("--wait", type=float, default=240.0, help="seconds to wait for the callbacks")
    parser.add_argument("--print-env", action="store_true", help="print the demo timings as shell exports")
    args = parser.parse_args(argv)
    if args.print_env:
        for key, value in DEMO_ENV.items():
            if key not in os.environ:
                print(f"export {key}={shlex.quote(value)}")
        return 0
    path = Path(args.tokens)
    if not path.is_file():
        print(f"demo: no tokens file at {path} (start the system with scripts/run first)", file=sys.stderr)
        return 2
    try:
        requests.get(args.base_url.rstrip("/") + "/api/v1/health", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        print(f"demo: Dispatch does not answer at {args.base_url}: {exc}", file=sys.stderr)
        return 2
    run(args.base_url, read_tokens(path), wait_seconds=args.wait)
    return 0


if __name__ == "__main__":
    sys.exit(main())
