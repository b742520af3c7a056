"""Every prompt name the code asks for exists in the catalogue (and so in every language)."""

from __future__ import annotations

import ast
from pathlib import Path

import reconnect_pbx
from reconnect_pbx import prompts

PACKAGE = Path(reconnect_pbx.__file__).parent
# Calls whose string arguments (or list elements) are prompt names.
PROMPT_CALLS = {"prompt", "prompts", "_play", "say_goodbye", "media", "media_list", "require"}


def prompt_names_used() -> dict[str, str]:
    used: dict[str, str] = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in PROMPT_CALLS:
                continue
            for arg in node.args[:1]:
                values = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
                for value in values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        used[value.value] = f"{path.relative_to(PACKAGE)}:{node.lineno}"
    return used


def test_the_scan_finds_the_prompts_of_the_deposit_flow():
    used = prompt_names_used()
    assert {"not-in-service", "greeting-default-intro", "mailbox-full", "technical-problem"} <= set(used)


def test_every_prompt_the_code_uses_is_in_the_catalogue():
    missing = {name: where for name, where in prompt_names_used().items() if name not in prompts.CATALOGUE}
    assert missing == {}
