"""The process shell: the CLI (server and client), configuration, logs, the single-instance
lock and discovery file, serving, and the demo."""
