"""Run in the Biomni 0.0.8 virtual environment: A1.add_mcp on the README's YAML, then call tools.

usage: python biomni_client.py YAML_FILE AGENT_DIR TRAIT
No LLM is called: A1 is configured with an unreachable local OpenAI-compatible endpoint, and
the data lake download is skipped (expected_data_lake_files=[]). Prints a JSON summary.
"""

import json
import sys


def main(yaml_file: str, agent_dir: str, trait: str) -> dict:
    from biomni.agent import A1

    agent = A1(
        path=agent_dir,
        llm="offline-test",
        source="Custom",
        base_url="http://127.0.0.1:9/v1",
        api_key="not-used",
        use_tool_retriever=True,  # add_mcp needs the tool registry, which only exists with the retriever
        expected_data_lake_files=[],
    )
    agent.add_mcp(yaml_file)
    tools = sorted(agent.list_custom_tools())
    module = sys.modules["mcp_servers.genoteam"]
    traits = module.list_traits(query=trait[:4])
    started = module.analyze_trait(trait=trait, wait_seconds=2)  # a new server process per call
    job_id = json.loads(started)["text"].split()[1]
    polled = module.get_job(job_id=job_id, wait_seconds=30)  # another new server process
    return {"tools": tools, "traits": traits, "started": started, "polled": polled, "job_id": job_id}


if __name__ == "__main__":
    try:
        summary = main(*sys.argv[1:4])
    except Exception as error:  # print the whole chain: Biomni wraps the MCP error's task group
        import traceback

        traceback.print_exception(error)
        raise SystemExit(1) from None
    print("BIOMNI-SUMMARY " + json.dumps(summary))
