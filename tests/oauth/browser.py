"""A browser for the tests, as ``$BROWSER`` names it to Python's ``webbrowser``: it opens the URL by
plain HTTP and follows the redirects, as a user's browser does once the user is signed in (the
test authorization server approves its user at once). Exits 0 when the last page answered 200."""

import sys

import requests

if __name__ == "__main__":
    answer = requests.get(sys.argv[1], timeout=30)
    sys.exit(0 if answer.status_code == 200 else 1)
