"""Play the user for the conformance suite's authorization-code scenario.

Usage: python .ci/conformance_authorize.py <authorization-url>
Opens the hub's sign-in and consent page, signs in as $CONFORMANCE_USER with $CONFORMANCE_PASSWORD,
approves, and delivers the redirect (code, state, iss) to the suite's callback.
"""

from __future__ import annotations

import html
import os
import re
import sys
from urllib.parse import urlsplit

import httpx


def main(url: str) -> int:
    with httpx.Client(timeout=30) as browser:
        page = browser.get(url)
        if page.status_code != 200:
            print(f"authorization page answered {page.status_code}: {page.text[:300]}", file=sys.stderr)
            return 1
        form = re.search(r'name="form" value="([^"]+)"', page.text)
        if not form:
            print("no consent form on the authorization page", file=sys.stderr)
            return 1
        answer = browser.post(urlsplit(url)._replace(query="").geturl(), data={
            "form": html.unescape(form.group(1)), "username": os.environ["CONFORMANCE_USER"],
            "password": os.environ["CONFORMANCE_PASSWORD"], "decision": "approve"})
        if answer.status_code != 302:
            print(f"consent answered {answer.status_code}, not a redirect", file=sys.stderr)
            return 1
        delivered = browser.get(answer.headers["location"])
        return 0 if delivered.status_code < 400 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
