"""The counselor console: an aiohttp app where counselors see the queue, open cases (audited),
claim them and talk with the user live, and hand back or close (docs/CONSOLE.md)."""
