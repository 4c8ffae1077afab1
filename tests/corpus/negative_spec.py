import irc


def f(x: irc.Spec((-4, 3))):
    return x.relu()
