"""Sleeps until killed: the CPU of an idle agent should read as about zero."""

from _common import ready, sleep_forever

ready("idle")
sleep_forever()
