"""Persistence: conversations saved by id, resumed, listed and deleted.

Uses an in-memory store, or PostgreSQL when OPI_PG_DSN is set, or opi's session files
when OPI_EXAMPLE_STORE=jsonl (those resume with `opi resume <id>`).
"""

from __future__ import annotations

import asyncio
import os

from opi_cli import (
    AgentBuilder,
    Config,
    ConversationMetadata,
    JsonlStore,
    MemoryStore,
    PostgresStore,
    generate_id,
)


def process_metadata(metadata: ConversationMetadata) -> None:
    print(f"Conversation ID: {metadata.id}")
    print(f"Name: {metadata.name}")
    print(f"Created: {metadata.created_at.isoformat()}")
    print(f"Updated: {metadata.updated_at.isoformat()}")
    print(f"Message count: {metadata.message_count}")
    print(f"Token count: {metadata.token_count}")


async def main() -> None:
    store: MemoryStore | JsonlStore | PostgresStore
    dsn = os.environ.get("OPI_PG_DSN")
    if dsn:
        store = await PostgresStore.connect(dsn)  # PostgreSQL, for production
    elif os.environ.get("OPI_EXAMPLE_STORE") == "jsonl":
        store = JsonlStore()  # $OPI_HOME/sessions, where `opi resume` looks
    else:
        store = MemoryStore()  # in-memory, useful for testing

    async with store:
        agent = (
            AgentBuilder()
            .with_config(Config().with_api_key(os.environ["OPENAI_API_KEY"]).with_model("gpt-4o"))
            .with_system_prompt("You are a helpful assistant.")
            .with_persistence(store)
            .build()
        )
        async with agent:  # stores everything and releases the session at the end

            conversation_id = os.environ.get("OPI_EXAMPLE_CONVERSATION", "user123_session456")
            response = await agent.run_with_id(conversation_id, "Tell me about Rust programming.")
            print(f"Response: {response}")

            # Later, the same conversation continues (loaded from the store if needed).
            response2 = await agent.run_with_id(conversation_id, "Tell me more about its memory safety.")
            print(f"Response 2: {response2}")

            # Manual save and load.
            await agent.save_conversation(conversation_id)
            await agent.load_conversation(conversation_id)

            conversations = await agent.list_conversations(limit=10, offset=0)
            print(f"Saved conversations: {len(conversations)}")
            for metadata in conversations:
                process_metadata(metadata)

            if os.environ.get("OPI_EXAMPLE_KEEP") != "1":
                await agent.delete_conversation(conversation_id)
                print(f"After delete: {len(await agent.list_conversations(10, 0))} conversations")
            print(f"A fresh id looks like: {len(generate_id())} characters")


if __name__ == "__main__":
    asyncio.run(main())
