"""The `ref` target: no code; the pipeline stops after hl-opt and runs the hl numpy reference."""

from irc.targets.kinds import Target, register


@register
class RefTarget(Target):
    """No code: the pipeline stops after hl-opt and runs the hl numpy reference."""

    kind = "ref"
    summary = "numpy reference of hl-opt"
    compiles = False
