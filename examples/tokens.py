"""Token counting and truncation (offline: the encodings ship with opi)."""

from __future__ import annotations

from opi_cli import count_tokens, truncate_text_to_tokens


def main() -> None:
    text = "This is a sample text"
    token_count = count_tokens(text, "gpt-4o")
    print(f"Token count: {token_count}")

    long_text = "A very long text that might exceed token limits... " * 20
    truncated = truncate_text_to_tokens(long_text, 10, "gpt-4o")
    print(f"Truncated text: {truncated}")
    print(f"Truncated tokens: {count_tokens(truncated, 'gpt-4o')}")


if __name__ == "__main__":
    main()
