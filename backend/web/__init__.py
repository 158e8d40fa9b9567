"""The built-in web pages: server-rendered, in Vietnamese, working without Grafana or internet."""
