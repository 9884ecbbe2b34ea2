"""`eie` command line: a thin shell over the Python API, and the top floor of the package
(nothing in ``eie`` imports it).

Every bad input ends in one line ``eie: error: ...`` on stderr and exit code 2, with no
output file written.  Existing files are never overwritten without ``--force``.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys

from .. import __version__
from ..errors import EIEError
from . import board, core, dsd, dse, lstm, networks, rtl, train

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's rule for bad input: one line on stderr, exit 2 (argparse prints
    its usage first, a dozen lines for some commands, the top-level one for a mistyped option)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; '{self.prog} --help' lists the options\n")


def _unrecognized(ap: argparse.ArgumentParser, command: str, extras: list[str], argv: list[str]) -> str:
    """The one line for words no option or argument of ``command`` takes, with the nearest
    option when the first is a mistyped one (``--densty`` -> ``--density``); a word given
    before the command is ``eie``'s own (``eie --bogus compile x``)."""
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    at = argv.index(command) if command in argv else len(argv)
    if extras[0] in argv[:at]:
        return (f"eie: error: unrecognized argument before the command: {extras[0]} (eie itself takes --help and "
                f"--version; options go after the command); 'eie --help' lists the commands")
    parser = sub.choices[command]
    word = extras[0].split("=", 1)[0]
    near = (difflib.get_close_matches(word, [o for o in parser._option_string_actions if o.startswith("--")], n=1)
            if word.startswith("-") else [])
    what = "argument" if len(extras) == 1 else "arguments"
    return (f"eie {command}: error: unrecognized {what}: {' '.join(extras)}"
            + (f" (did you mean {near[0]}?)" if near else "") + f"; 'eie {command} --help' lists the options")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="eie", description="EIE sparse-accelerator toolkit: compress, compile, "
                                 "simulate, price in energy, generate and verify RTL, synthesise")
    ap.add_argument("--version", action="version", version=f"eie {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    core.register(sub)
    networks.register(sub)
    lstm.register(sub)
    rtl.register(sub)
    dse.register(sub)
    train.register(sub)
    dsd.register(sub)
    board.register(sub)
    return ap


def _positionals_before_int_lists(ap: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``argv`` with the words that follow an option of several integers (``--seed S [S ...]``,
    or an abbreviation of it that argparse accepts) and are not integers moved in front of
    that option: argparse lets such an option take every word up to the next option, so
    ``eie board --seed 1 2 ulx3s`` read the board as a seed.  The options keep their order
    (a later ``--seed`` still wins); ``--seed=1 2`` is read as ``--seed 1 2``; words after
    ``--`` stay where they are; in a command without positional arguments nothing is moved
    (``eie synth --seed 1 x``: argparse's "invalid int value: 'x'").  Likewise, in a command with positional arguments, an option
    whose value is optional and one of a few (``--tmg-ripup [MODE]``) followed by a word that
    is none of them nor close to one (a typo stays argparse's "invalid choice") is given its
    bare value, so that ``eie board --tmg-ripup ulx3s`` reads the board as the board."""
    sub = next((a for a in ap._actions if isinstance(a, argparse._SubParsersAction)), None)
    at = next((i for i, w in enumerate(argv) if sub and w in sub.choices), None)
    if at is None:
        return argv
    parser = sub.choices[argv[at]]
    longs = [o for o in parser._option_string_actions if o.startswith("--")]

    def action(word: str):
        if not word.startswith("--") or "=" in word:
            return None
        hits = [word] if word in parser._option_string_actions else [o for o in longs if o.startswith(word)]
        acts = {parser._option_string_actions[o] for o in hits}
        return next(iter(acts)) if len(acts) == 1 else None

    takes_positional = any(not a.option_strings for a in parser._actions)

    def int_list(word: str) -> bool:
        act = action(word)
        return act is not None and act.nargs in ("+", "*") and act.type is int

    out, i = argv[:at + 1], at + 1
    while i < len(argv):
        w = argv[i]
        if w == "--":
            out += argv[i:]
            break
        j = i + 1
        opt, eq, value = w.partition("=")
        if eq and int_list(opt) and re.fullmatch(r"-?\d+", value):
            argv = argv[:i] + [opt, value] + argv[i + 1:]      # --seed=1 2 BOARD: as --seed 1 2 BOARD
            w = opt
        act = action(w)
        if (act is not None and act.nargs == "?" and act.choices and takes_positional and j < len(argv)
                and not argv[j].startswith("-") and argv[j] not in act.choices
                and not difflib.get_close_matches(argv[j], list(act.choices), cutoff=0.6)):   # a typo: argparse says so
            out.append(f"{w}={act.const}")        # --tmg-ripup ulx3s: the bare flag, then the board
            i = j
            continue
        if int_list(w) and takes_positional:      # else argparse names the bad integer itself
            while j < len(argv) and re.fullmatch(r"-?\d+", argv[j]):
                j += 1
            k = j
            while k < len(argv) and j > i + 1 and not argv[k].startswith("-"):
                k += 1
            out += argv[j:k] + argv[i:j]          # the positional words first, then the option
            i = k
            continue
        out.append(w)
        i = j
    return out


#: the arguments that name what a command writes (a file or a directory); every other
#: argument that names an existing file, or a network directory, is one of its inputs, and so
#: is each file a command declares in a directory argument (``set_defaults(inputs_in={dest:
#: name})``: eie run-board reads ``--build``'s board.json)
OUTPUT_DESTS = ("json", "csv", "output", "out", "waves", "report", "workdir", "reference")


def _check_outputs_are_not_inputs(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse an output that is one of the run's input files, in every command: each argument
    outside :data:`OUTPUT_DESTS` that names an existing file is an input, and so are the
    ``network.toml``, ``manifest.json`` and layer files of a network directory given as an argument
    (``eie compile l.npz --json l.npz --force`` replaced the layer with its JSON record; ``eie
    simulate net -o net/fc1.npz --force`` a layer of the network)."""
    from ..fileio import check_not_inputs, protect_inputs
    from ..network import load_network
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices[args.command]
    names = {a.dest: a.option_strings[-1] if a.option_strings else a.dest for a in parser._actions}
    outputs = {names[d]: v for d, v in vars(args).items() if d in OUTPUT_DESTS and d in names and isinstance(v, str)}
    protect_inputs({})                     # this command's own, below: not the previous one's
    if not outputs:
        return
    inputs = {}
    for dest, value in vars(args).items():
        if dest in OUTPUT_DESTS or dest not in names:
            continue
        values = value if isinstance(value, list) else [value]
        for i, v in enumerate(values):
            if not isinstance(v, str) or v in ("", "-"):
                continue
            what = f"{names[dest]} file" + (f" {i + 1}" if len(values) > 1 else "")
            if os.path.isfile(v):
                inputs[what] = v
            elif os.path.isfile(os.path.join(v, "network.toml")):
                inputs[f"network.toml of the network directory {v!r}"] = os.path.join(v, "network.toml")
                if os.path.isfile(os.path.join(v, "manifest.json")):
                    # the record of the run that wrote the directory (eie import's: which files
                    # are its own, for a later --force run's stale-file removal)
                    inputs[f"manifest.json of the network directory {v!r}"] = os.path.join(v, "manifest.json")
                try:
                    net = load_network(v, check_files=False)
                except EIEError:
                    continue                  # the command itself says what is wrong with it
                for layer in net.layers:
                    inputs[f"file of layer {layer.name!r} of the network directory {v!r}"] = str(net.path(layer))
    for dest, name in getattr(args, "inputs_in", {}).items():
        if isinstance(getattr(args, dest, None), str):
            inputs[f"{name} of {names[dest]}"] = os.path.join(getattr(args, dest), name)
    protect_inputs(inputs)                 # output directories: eie.fileio.OutputPlan checks their files
    check_not_inputs(inputs, **outputs)


def main(argv=None) -> int:
    ap = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extras = ap.parse_known_args(_positionals_before_int_lists(ap, argv))
    if extras:
        print(_unrecognized(ap, args.command, extras, argv), file=sys.stderr)
        return 2
    from ..fileio import protect_inputs
    try:
        _check_outputs_are_not_inputs(ap, args)
        return args.func(args)
    except EIEError as exc:
        print(f"eie: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C: one line and the shell's code for SIGINT, not a traceback (files are written
        # whole or not at all, eie.fileio; a build directory says what it holds when done)
        print(f"eie {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of standard output went away (`eie ... | head`): stop quietly, and keep
        # Python from reporting the failed flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        protect_inputs({})                 # the command's inputs: not a later API caller's concern
