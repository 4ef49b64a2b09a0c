"""Widgets: they render what they are given and never call psutil, NVML or the store."""
