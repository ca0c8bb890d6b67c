"""twinbench: can a coding agent rebuild a program from nothing but its executable and its docs?"""

__version__ = "0.1.0"
