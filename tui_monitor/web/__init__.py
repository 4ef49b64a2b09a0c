"""`tui-monitor serve`: the dashboard in a browser, one read-only app process per page.

Built on textual-serve (Textual's own server: the xterm.js page and the websocket bridge to
an app running under Textual's web driver). We subclass its aiohttp `Server` for what a
private dashboard needs: a token on every request (auth.py), a cap on sessions whose
processes are always ended and reaped (server.py), and a page that loads nothing from
outside this server (page.html).
"""
