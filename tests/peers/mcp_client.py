"""MCP client peer for tests/integration/tools.rs: the official Python MCP SDK talks to waylog
over stdio (`waylog mcp`, spawned by the SDK) or Streamable HTTP (`POST /mcp`), lists the tools,
calls query_sql, list_active_incidents and triage_incident, and makes two invalid calls. Prints
one JSON object with what it saw on stdout; exits non-zero on a failure it can detect.

usage: mcp_client.py stdio WAYLOG_BIN URL KEY INCIDENT_ID
       mcp_client.py http URL KEY INCIDENT_ID
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def text_of(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def exercise(read, write, incident_id):
    out = {}
    async with ClientSession(read, write) as session:
        init = await session.initialize()
        out["protocol_version"] = init.protocol_version
        out["server_name"] = init.server_info.name
        tools = await session.list_tools()
        out["tools"] = [t.name for t in tools.tools]
        out["output_schemas"] = sum(1 for t in tools.tools if t.output_schema)
        calls = {
            "query_sql": ("query_sql", {"sql": "SELECT count(*) AS n FROM events"}),
            "list_active_incidents": ("list_active_incidents", {}),
            "triage_incident": ("triage_incident", {"incident_id": incident_id, "snapshot": True}),
            "forbidden_sql": ("query_sql", {"sql": "DROP TABLE events"}),
            "unknown_tool": ("no_such_tool", {}),
        }
        for key, (name, args) in calls.items():
            r = await session.call_tool(name, args)
            out[key] = {
                "is_error": bool(r.is_error),
                "text": text_of(r),
                "structured": r.structured_content,
            }
    return out


async def main():
    mode = sys.argv[1]
    if mode == "stdio":
        _, _, binary, url, key, incident_id = sys.argv
        params = StdioServerParameters(
            command=binary, args=["mcp"], env={"WAYLOG_URL": url, "WAYLOG_AGENT_KEY": key}
        )
        async with stdio_client(params) as (read, write):
            out = await exercise(read, write, incident_id)
    else:
        _, _, url, key, incident_id = sys.argv
        client = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
        async with client:
            async with streamable_http_client(f"{url}/mcp", http_client=client) as streams:
                read, write = streams[0], streams[1]
                out = await exercise(read, write, incident_id)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
