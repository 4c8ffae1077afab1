import irc


def f(x: irc.Spec((4, 3)), y: irc.Spec((5,))):
    return x + y
