#!/usr/bin/env python3
"""A partial re-implementation of FIGlet 2.2.5 (Debian's /usr/bin/figlet).

Supported:
  * the built-in "standard" font (ASCII 32..126 and the seven Deutsch
    letters), rendered with FIGlet's horizontal smushing, kerning,
    universal overlapping and full-width layouts (-s -S -k -W -o -m);
  * word wrapping at the output width (-w), justification (-x -l -c -r),
    direction (-X -L -R), paragraph mode (-p -n), Deutsch mode (-D -E),
    input from the command line (-A or trailing words) or from stdin;
  * FIGlet's usage and error messages for bad options and missing fonts.

Deliberately not supported:
  * any font other than the built-in standard font (other names give
    FIGlet's "Unable to open font file" error);
  * control files (-C always reports "Unable to open control file");
  * information codes (-v, -I N with N >= 0 exit silently with status 0);
  * terminal width detection (-t is accepted and ignored);
  * glyphs beyond ASCII and the Deutsch letters (the real standard font
    also covers Latin-1/Latin-2; such input renders here as figlet's empty
    "missing character"), and ISO 2022 escape/shift sequences in the input.
"""

import os
import sys

# ---------------------------------------------------------------------------
# Font header parameters of the built-in standard font (flf2a$ 6 5 16 15 11 0 24463)
# ---------------------------------------------------------------------------

HARDBLANK = "$"
HEIGHT = 6
BASELINE = 5
MAX_LENGTH = 16
OLD_LAYOUT = 15
PRINT_DIRECTION = 0
FULL_LAYOUT = 24463

BUILTIN_FONT_NAME = "standard"
DEFAULT_FONT_DIR = "/usr/share/figlet"
FONT_SUFFIX = ".flf"
TOILET_SUFFIX = ".tlf"
CONTROL_SUFFIX = ".flc"
DEFAULT_COLUMNS = 80

# Smushing mode bits, as in figlet.c.
SM_EQUAL = 1
SM_LOWLINE = 2
SM_HIERARCHY = 4
SM_PAIR = 8
SM_BIGX = 16
SM_HARDBLANK = 32
SM_KERN = 64
SM_SMUSH = 128

# How a command-line smush mode combines with the font's layout.
SMO_NO = 0
SMO_YES = 1
SMO_FORCE = 2

# Character codes used by the line-breaking state machine.
EOF = -1
TAB = 9
NEWLINE = 10
SPACE = 32
C_SPACES = (9, 10, 11, 12, 13, 32)
DEUTSCH = (196, 214, 220, 228, 246, 252, 223)

OPTSTRING = "ADEXLRI:xlcrpntvm:w:d:f:C:NFskSWo"

USAGE = (
    b"Usage: %s [ -cklnoprstvxDELNRSWX ] [ -d fontdirectory ]\n"
    b"              [ -f fontfile ] [ -m smushmode ] [ -w outputwidth ]\n"
    b"              [ -C controlfile ] [ -I infocode ] [ message ]\n"
)

F_OPTION_NOTE = (
    b"\nBecause of numerous incompatibilities, the \"-F\" option has been\n"
    b"removed.  It has been replaced by the \"figlist\" program, which is now\n"
    b"included in the basic FIGlet package.  \"figlist\" is also available\n"
    b"from  http://www.figlet.org/under UNIX utilities.\n"
)

# ---------------------------------------------------------------------------
# Glyphs of the standard font: character -> rows (endmarks removed,
# hardblanks still written as HARDBLANK).
# ---------------------------------------------------------------------------

GLYPHS = {
    ' ': (
        ' $',
        ' $',
        ' $',
        ' $',
        ' $',
        ' $',
    ),
    '!': (
        '  _ ',
        ' | |',
        ' | |',
        ' |_|',
        ' (_)',
        '    ',
    ),
    '"': (
        '  _ _ ',
        ' ( | )',
        '  V V ',
        '   $  ',
        '   $  ',
        '      ',
    ),
    '#': (
        '    _  _   ',
        '  _| || |_ ',
        ' |_  ..  _|',
        ' |_      _|',
        '   |_||_|  ',
        '           ',
    ),
    '$': (
        '   _  ',
        '  | | ',
        ' / __)',
        ' \\__ \\',
        ' (   /',
        '  |_| ',
    ),
    '%': (
        '  _  __',
        ' (_)/ /',
        '   / / ',
        '  / /_ ',
        ' /_/(_)',
        '       ',
    ),
    '&': (
        '   ___   ',
        '  ( _ )  ',
        '  / _ \\/\\',
        ' | (_>  <',
        '  \\___/\\/',
        '         ',
    ),
    "'": (
        '  _ ',
        ' ( )',
        ' |/ ',
        '  $ ',
        '  $ ',
        '    ',
    ),
    '(': (
        '   __',
        '  / /',
        ' | | ',
        ' | | ',
        ' | | ',
        '  \\_\\',
    ),
    ')': (
        ' __  ',
        ' \\ \\ ',
        '  | |',
        '  | |',
        '  | |',
        ' /_/ ',
    ),
    '*': (
        '       ',
        ' __/\\__',
        ' \\    /',
        ' /_  _\\',
        '   \\/  ',
        '       ',
    ),
    '+': (
        '        ',
        '    _   ',
        '  _| |_ ',
        ' |_   _|',
        '   |_|  ',
        '        ',
    ),
    ',': (
        '    ',
        '    ',
        '    ',
        '  _ ',
        ' ( )',
        ' |/ ',
    ),
    '-': (
        '        ',
        '        ',
        '  _____ ',
        ' |_____|',
        '    $   ',
        '        ',
    ),
    '.': (
        '    ',
        '    ',
        '    ',
        '  _ ',
        ' (_)',
        '    ',
    ),
    '/': (
        '     __',
        '    / /',
        '   / / ',
        '  / /  ',
        ' /_/   ',
        '       ',
    ),
    '0': (
        '   ___  ',
        '  / _ \\ ',
        ' | | | |',
        ' | |_| |',
        '  \\___/ ',
        '        ',
    ),
    '1': (
        '  _ ',
        ' / |',
        ' | |',
        ' | |',
        ' |_|',
        '    ',
    ),
    '2': (
        '  ____  ',
        ' |___ \\ ',
        '   __) |',
        '  / __/ ',
        ' |_____|',
        '        ',
    ),
    '3': (
        '  _____ ',
        ' |___ / ',
        '   |_ \\ ',
        '  ___) |',
        ' |____/ ',
        '        ',
    ),
    '4': (
        '  _  _   ',
        ' | || |  ',
        ' | || |_ ',
        ' |__   _|',
        '    |_|  ',
        '         ',
    ),
    '5': (
        '  ____  ',
        ' | ___| ',
        ' |___ \\ ',
        '  ___) |',
        ' |____/ ',
        '        ',
    ),
    '6': (
        '   __   ',
        '  / /_  ',
        " | '_ \\ ",
        ' | (_) |',
        '  \\___/ ',
        '        ',
    ),
    '7': (
        '  _____ ',
        ' |___  |',
        '    / / ',
        '   / /  ',
        '  /_/   ',
        '        ',
    ),
    '8': (
        '   ___  ',
        '  ( _ ) ',
        '  / _ \\ ',
        ' | (_) |',
        '  \\___/ ',
        '        ',
    ),
    '9': (
        '   ___  ',
        '  / _ \\ ',
        ' | (_) |',
        '  \\__, |',
        '    /_/ ',
        '        ',
    ),
    ':': (
        '    ',
        '  _ ',
        ' (_)',
        '  _ ',
        ' (_)',
        '    ',
    ),
    ';': (
        '    ',
        '  _ ',
        ' (_)',
        '  _ ',
        ' ( )',
        ' |/ ',
    ),
    '<': (
        '   __',
        '  / /',
        ' / / ',
        ' \\ \\ ',
        '  \\_\\',
        '     ',
    ),
    '=': (
        '        ',
        '  _____ ',
        ' |_____|',
        ' |_____|',
        '    $   ',
        '        ',
    ),
    '>': (
        ' __  ',
        ' \\ \\ ',
        '  \\ \\',
        '  / /',
        ' /_/ ',
        '     ',
    ),
    '?': (
        '  ___ ',
        ' |__ \\',
        '   / /',
        '  |_| ',
        '  (_) ',
        '      ',
    ),
    '@': (
        '    ____  ',
        '   / __ \\ ',
        '  / / _` |',
        ' | | (_| |',
        '  \\ \\__,_|',
        '   \\____/ ',
    ),
    'A': (
        '     _    ',
        '    / \\   ',
        '   / _ \\  ',
        '  / ___ \\ ',
        ' /_/   \\_\\',
        '          ',
    ),
    'B': (
        '  ____  ',
        ' | __ ) ',
        ' |  _ \\ ',
        ' | |_) |',
        ' |____/ ',
        '        ',
    ),
    'C': (
        '   ____ ',
        '  / ___|',
        ' | |    ',
        ' | |___ ',
        '  \\____|',
        '        ',
    ),
    'D': (
        '  ____  ',
        ' |  _ \\ ',
        ' | | | |',
        ' | |_| |',
        ' |____/ ',
        '        ',
    ),
    'E': (
        '  _____ ',
        ' | ____|',
        ' |  _|  ',
        ' | |___ ',
        ' |_____|',
        '        ',
    ),
    'F': (
        '  _____ ',
        ' |  ___|',
        ' | |_   ',
        ' |  _|  ',
        ' |_|    ',
        '        ',
    ),
    'G': (
        '   ____ ',
        '  / ___|',
        ' | |  _ ',
        ' | |_| |',
        '  \\____|',
        '        ',
    ),
    'H': (
        '  _   _ ',
        ' | | | |',
        ' | |_| |',
        ' |  _  |',
        ' |_| |_|',
        '        ',
    ),
    'I': (
        '  ___ ',
        ' |_ _|',
        '  | | ',
        '  | | ',
        ' |___|',
        '      ',
    ),
    'J': (
        '      _ ',
        '     | |',
        '  _  | |',
        ' | |_| |',
        '  \\___/ ',
        '        ',
    ),
    'K': (
        '  _  __',
        ' | |/ /',
        " | ' / ",
        ' | . \\ ',
        ' |_|\\_\\',
        '       ',
    ),
    'L': (
        '  _     ',
        ' | |    ',
        ' | |    ',
        ' | |___ ',
        ' |_____|',
        '        ',
    ),
    'M': (
        '  __  __ ',
        ' |  \\/  |',
        ' | |\\/| |',
        ' | |  | |',
        ' |_|  |_|',
        '         ',
    ),
    'N': (
        '  _   _ ',
        ' | \\ | |',
        ' |  \\| |',
        ' | |\\  |',
        ' |_| \\_|',
        '        ',
    ),
    'O': (
        '   ___  ',
        '  / _ \\ ',
        ' | | | |',
        ' | |_| |',
        '  \\___/ ',
        '        ',
    ),
    'P': (
        '  ____  ',
        ' |  _ \\ ',
        ' | |_) |',
        ' |  __/ ',
        ' |_|    ',
        '        ',
    ),
    'Q': (
        '   ___  ',
        '  / _ \\ ',
        ' | | | |',
        ' | |_| |',
        '  \\__\\_\\',
        '        ',
    ),
    'R': (
        '  ____  ',
        ' |  _ \\ ',
        ' | |_) |',
        ' |  _ < ',
        ' |_| \\_\\',
        '        ',
    ),
    'S': (
        '  ____  ',
        ' / ___| ',
        ' \\___ \\ ',
        '  ___) |',
        ' |____/ ',
        '        ',
    ),
    'T': (
        '  _____ ',
        ' |_   _|',
        '   | |  ',
        '   | |  ',
        '   |_|  ',
        '        ',
    ),
    'U': (
        '  _   _ ',
        ' | | | |',
        ' | | | |',
        ' | |_| |',
        '  \\___/ ',
        '        ',
    ),
    'V': (
        ' __     __',
        ' \\ \\   / /',
        '  \\ \\ / / ',
        '   \\ V /  ',
        '    \\_/   ',
        '          ',
    ),
    'W': (
        ' __        __',
        ' \\ \\      / /',
        '  \\ \\ /\\ / / ',
        '   \\ V  V /  ',
        '    \\_/\\_/   ',
        '             ',
    ),
    'X': (
        ' __  __',
        ' \\ \\/ /',
        '  \\  / ',
        '  /  \\ ',
        ' /_/\\_\\',
        '       ',
    ),
    'Y': (
        ' __   __',
        ' \\ \\ / /',
        '  \\ V / ',
        '   | |  ',
        '   |_|  ',
        '        ',
    ),
    'Z': (
        '  _____',
        ' |__  /',
        '   / / ',
        '  / /_ ',
        ' /____|',
        '       ',
    ),
    '[': (
        '  __ ',
        ' | _|',
        ' | | ',
        ' | | ',
        ' | | ',
        ' |__|',
    ),
    '\\': (
        ' __    ',
        ' \\ \\   ',
        '  \\ \\  ',
        '   \\ \\ ',
        '    \\_\\',
        '       ',
    ),
    ']': (
        '  __ ',
        ' |_ |',
        '  | |',
        '  | |',
        '  | |',
        ' |__|',
    ),
    '^': (
        '  /\\ ',
        ' |/\\|',
        '   $ ',
        '   $ ',
        '   $ ',
        '     ',
    ),
    '_': (
        '        ',
        '        ',
        '        ',
        '        ',
        '  _____ ',
        ' |_____|',
    ),
    '`': (
        '  _ ',
        ' ( )',
        '  \\|',
        '  $ ',
        '  $ ',
        '    ',
    ),
    'a': (
        '        ',
        '   __ _ ',
        '  / _` |',
        ' | (_| |',
        '  \\__,_|',
        '        ',
    ),
    'b': (
        '  _     ',
        ' | |__  ',
        " | '_ \\ ",
        ' | |_) |',
        ' |_.__/ ',
        '        ',
    ),
    'c': (
        '       ',
        '   ___ ',
        '  / __|',
        ' | (__ ',
        '  \\___|',
        '       ',
    ),
    'd': (
        '      _ ',
        '   __| |',
        '  / _` |',
        ' | (_| |',
        '  \\__,_|',
        '        ',
    ),
    'e': (
        '       ',
        '   ___ ',
        '  / _ \\',
        ' |  __/',
        '  \\___|',
        '       ',
    ),
    'f': (
        '   __ ',
        '  / _|',
        ' | |_ ',
        ' |  _|',
        ' |_|  ',
        '      ',
    ),
    'g': (
        '        ',
        '   __ _ ',
        '  / _` |',
        ' | (_| |',
        '  \\__, |',
        '  |___/ ',
    ),
    'h': (
        '  _     ',
        ' | |__  ',
        " | '_ \\ ",
        ' | | | |',
        ' |_| |_|',
        '        ',
    ),
    'i': (
        '  _ ',
        ' (_)',
        ' | |',
        ' | |',
        ' |_|',
        '    ',
    ),
    'j': (
        '    _ ',
        '   (_)',
        '   | |',
        '   | |',
        '  _/ |',
        ' |__/ ',
    ),
    'k': (
        '  _    ',
        ' | | __',
        ' | |/ /',
        ' |   < ',
        ' |_|\\_\\',
        '       ',
    ),
    'l': (
        '  _ ',
        ' | |',
        ' | |',
        ' | |',
        ' |_|',
        '    ',
    ),
    'm': (
        '            ',
        '  _ __ ___  ',
        " | '_ ` _ \\ ",
        ' | | | | | |',
        ' |_| |_| |_|',
        '            ',
    ),
    'n': (
        '        ',
        '  _ __  ',
        " | '_ \\ ",
        ' | | | |',
        ' |_| |_|',
        '        ',
    ),
    'o': (
        '        ',
        '   ___  ',
        '  / _ \\ ',
        ' | (_) |',
        '  \\___/ ',
        '        ',
    ),
    'p': (
        '        ',
        '  _ __  ',
        " | '_ \\ ",
        ' | |_) |',
        ' | .__/ ',
        ' |_|    ',
    ),
    'q': (
        '        ',
        '   __ _ ',
        '  / _` |',
        ' | (_| |',
        '  \\__, |',
        '     |_|',
    ),
    'r': (
        '       ',
        '  _ __ ',
        " | '__|",
        ' | |   ',
        ' |_|   ',
        '       ',
    ),
    's': (
        '      ',
        '  ___ ',
        ' / __|',
        ' \\__ \\',
        ' |___/',
        '      ',
    ),
    't': (
        '  _   ',
        ' | |_ ',
        ' | __|',
        ' | |_ ',
        '  \\__|',
        '      ',
    ),
    'u': (
        '        ',
        '  _   _ ',
        ' | | | |',
        ' | |_| |',
        '  \\__,_|',
        '        ',
    ),
    'v': (
        '        ',
        ' __   __',
        ' \\ \\ / /',
        '  \\ V / ',
        '   \\_/  ',
        '        ',
    ),
    'w': (
        '           ',
        ' __      __',
        ' \\ \\ /\\ / /',
        '  \\ V  V / ',
        '   \\_/\\_/  ',
        '           ',
    ),
    'x': (
        '       ',
        ' __  __',
        ' \\ \\/ /',
        '  >  < ',
        ' /_/\\_\\',
        '       ',
    ),
    'y': (
        '        ',
        '  _   _ ',
        ' | | | |',
        ' | |_| |',
        '  \\__, |',
        '  |___/ ',
    ),
    'z': (
        '      ',
        '  ____',
        ' |_  /',
        '  / / ',
        ' /___|',
        '      ',
    ),
    '{': (
        '    __',
        '   / /',
        '  | | ',
        ' < <  ',
        '  | | ',
        '   \\_\\',
    ),
    '|': (
        '  _ ',
        ' | |',
        ' | |',
        ' | |',
        ' | |',
        ' |_|',
    ),
    '}': (
        ' __   ',
        ' \\ \\  ',
        '  | | ',
        '   > >',
        '  | | ',
        ' /_/  ',
    ),
    '~': (
        '  /\\/|',
        ' |/\\/ ',
        '   $  ',
        '   $  ',
        '   $  ',
        '      ',
    ),
    'Ä': (
        '  _   _ ',
        ' (_)_(_)',
        '   /_\\  ',
        '  / _ \\ ',
        ' /_/ \\_\\',
        '        ',
    ),
    'Ö': (
        '  _   _ ',
        ' (_)_(_)',
        '  / _ \\ ',
        ' | |_| |',
        '  \\___/ ',
        '        ',
    ),
    'Ü': (
        '  _   _ ',
        ' (_) (_)',
        ' | | | |',
        ' | |_| |',
        '  \\___/ ',
        '        ',
    ),
    'ä': (
        '  _   _ ',
        ' (_)_(_)',
        '  / _` |',
        ' | (_| |',
        '  \\__,_|',
        '        ',
    ),
    'ö': (
        '  _   _ ',
        ' (_)_(_)',
        '  / _ \\ ',
        ' | (_) |',
        '  \\___/ ',
        '        ',
    ),
    'ü': (
        '  _   _ ',
        ' (_) (_)',
        ' | | | |',
        ' | |_| |',
        '  \\__,_|',
        '        ',
    ),
    'ß': (
        '   ___ ',
        '  / _ \\',
        ' | |/ /',
        ' | |\\ \\',
        ' | ||_/',
        ' |_|   ',
    ),
}

MISSING_GLYPH = ("",) * HEIGHT
GLYPHS_BY_CODE = {ord(char): rows for char, rows in GLYPHS.items()}


# ---------------------------------------------------------------------------
# Small C-library emulations
# ---------------------------------------------------------------------------

def c_atoi(text):
    """Convert bytes to an int the way glibc atoi() does (wrapping to 32 bits)."""
    i = 0
    while i < len(text) and text[i] in b" \t\n\v\f\r":
        i += 1
    sign = 1
    if i < len(text) and text[i] in b"+-":
        sign = -1 if text[i] == ord("-") else 1
        i += 1
    value = 0
    while i < len(text) and 48 <= text[i] <= 57:
        value = value * 10 + text[i] - 48
        i += 1
    value = max(-(2 ** 63), min(2 ** 63 - 1, sign * value))
    value &= 0xFFFFFFFF
    return value - 2 ** 32 if value >= 2 ** 31 else value


def is_c_space(code):
    """Return True if code is an ASCII whitespace character (C isspace)."""
    return code in C_SPACES


def has_suffix(name, suffix):
    """Return True if bytes name ends with suffix, ignoring ASCII case."""
    return len(name) >= len(suffix) and name[-len(suffix):].lower() == suffix.lower()


# ---------------------------------------------------------------------------
# Command-line handling
# ---------------------------------------------------------------------------

class Settings:
    """Options collected from the command line, with figlet's defaults."""

    def __init__(self):
        """Initialise every option to figlet's default value."""
        self.fontdir = os.environb.get(b"FIGLET_FONTDIR", DEFAULT_FONT_DIR.encode())
        self.fontname = BUILTIN_FONT_NAME.encode()
        self.control_files = []
        self.smushmode = 0
        self.smushoverride = SMO_NO
        self.deutsch = False
        self.justification = -1
        self.right2left = -1
        self.paragraph = False
        self.infoprint = -1
        self.cmdinput = False
        self.outputwidth = DEFAULT_COLUMNS
        self.words = []


def program_name(argv0):
    """Return the part of argv[0] after the last '/', as figlet's messages use."""
    return argv0.rsplit(b"/", 1)[-1]


def getopt(args):
    """Split args like GNU getopt: return (options, operands, error message or None).

    Options are (letter, argument) pairs in command-line order; operands
    are the non-option words (GNU getopt permutes them to the end).  On an
    invalid option or a missing argument, parsing stops and the options
    seen so far are returned with the diagnostic.
    """
    options = []
    operands = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == b"--":
            operands.extend(args[index:])
            break
        if not arg.startswith(b"-") or arg == b"-":
            operands.append(arg)
            continue
        pos = 1
        while pos < len(arg):
            letter = arg[pos:pos + 1]
            spec = OPTSTRING.encode().find(letter)
            if spec < 0 or letter in b":;":
                return options, operands, b"invalid option -- '" + letter + b"'"
            if OPTSTRING[spec + 1:spec + 2] != ":":
                options.append((letter.decode("latin-1"), None))
                pos += 1
                continue
            if pos + 1 < len(arg):
                value = arg[pos + 1:]
            elif index < len(args):
                value = args[index]
                index += 1
            else:
                return options, operands, b"option requires an argument -- '" + letter + b"'"
            options.append((letter.decode("latin-1"), value))
            break
    return options, operands, None


def apply_option(settings, letter, value, myname):
    """Update settings for one command-line option, as figlet's getparams() does."""
    flags = {
        "A": ("cmdinput", True), "D": ("deutsch", True), "E": ("deutsch", False),
        "X": ("right2left", -1), "L": ("right2left", 0), "R": ("right2left", 1),
        "x": ("justification", -1), "l": ("justification", 0),
        "c": ("justification", 1), "r": ("justification", 2),
        "p": ("paragraph", True), "n": ("paragraph", False),
        "v": ("infoprint", 0),
    }
    layouts = {
        "k": (SM_KERN, SMO_YES), "S": (SM_SMUSH, SMO_FORCE),
        "o": (SM_SMUSH, SMO_YES), "W": (0, SMO_YES),
    }
    if letter in flags:
        attribute, new_value = flags[letter]
        setattr(settings, attribute, new_value)
    elif letter in layouts:
        settings.smushmode, settings.smushoverride = layouts[letter]
    elif letter == "s":
        settings.smushoverride = SMO_NO
    elif letter == "t":
        pass  # Terminal width detection is not supported.
    elif letter == "I":
        settings.infoprint = c_atoi(value)
    elif letter == "m":
        apply_smush_option(settings, c_atoi(value))
    elif letter == "w":
        columns = c_atoi(value)
        if columns > 0:
            settings.outputwidth = columns
    elif letter == "d":
        settings.fontdir = value
    elif letter == "f":
        settings.fontname = strip_font_suffix(value)
    elif letter == "C":
        name = value
        if has_suffix(name, CONTROL_SUFFIX.encode()):
            name = name[:-len(CONTROL_SUFFIX)]
        settings.control_files.append(name)
    elif letter == "N":
        settings.control_files = []
    elif letter == "F":
        write_stderr(myname + b": illegal option -- F\n")
        write_stderr(USAGE % myname)
        write_stderr(F_OPTION_NOTE)
        sys.exit(1)


def apply_smush_option(settings, mode):
    """Interpret the numeric argument of -m the way figlet does."""
    settings.smushmode = mode
    if mode < -1:
        settings.smushoverride = SMO_NO
        return
    if mode == 0:
        settings.smushmode = SM_KERN
    elif mode == -1:
        settings.smushmode = 0
    else:
        settings.smushmode = (mode & 63) | SM_SMUSH
    settings.smushoverride = SMO_YES


def strip_font_suffix(name):
    """Remove a trailing .flf or .tlf (any case) from a font name."""
    for suffix in (FONT_SUFFIX, TOILET_SUFFIX):
        if has_suffix(name, suffix.encode()):
            return name[:-len(suffix)]
    return name


def parse_command_line(argv):
    """Parse argv (a list of bytes) into Settings, exiting on usage errors."""
    settings = Settings()
    myname = program_name(argv[0])
    options, operands, error = getopt(argv[1:])
    for letter, value in options:
        apply_option(settings, letter, value, myname)
    if error is not None:
        write_stderr(argv[0] + b": " + error + b"\n")
        write_stderr(USAGE % myname)
        sys.exit(1)
    settings.words = operands
    if operands:
        settings.cmdinput = True
    return settings


# ---------------------------------------------------------------------------
# Font and control file lookup
# ---------------------------------------------------------------------------

def font_is_builtin(fontdir, fontname):
    """Return True if figlet's search for fontname would find the standard font.

    figlet tries FONTDIR/NAME.flf (when NAME has no directory separator)
    and then NAME.flf; only the standard font in the default directory is
    available here.
    """
    standard_path = os.path.join(DEFAULT_FONT_DIR, BUILTIN_FONT_NAME + FONT_SUFFIX)
    candidates = []
    if b"/" not in fontname and b"\\" not in fontname:
        candidates.append(fontdir + b"/" + fontname + FONT_SUFFIX.encode())
    candidates.append(fontname + FONT_SUFFIX.encode())
    for candidate in candidates:
        path = os.path.normpath(os.path.abspath(os.fsdecode(candidate)))
        if path == standard_path:
            return True
    return False


def check_resources(settings, myname):
    """Exit with figlet's messages when a control file or font is unavailable."""
    for control_name in settings.control_files:
        write_stderr(myname + b": " + control_name + b": Unable to open control file\n")
        sys.exit(1)
    if not font_is_builtin(settings.fontdir, settings.fontname):
        write_stderr(myname + b": " + settings.fontname + b": Unable to open font file\n")
        sys.exit(1)


def resolve_layout(settings):
    """Combine command-line layout options with the font's defaults."""
    if settings.smushoverride == SMO_NO:
        settings.smushmode = FULL_LAYOUT
    elif settings.smushoverride == SMO_FORCE:
        settings.smushmode |= FULL_LAYOUT
    if settings.right2left < 0:
        settings.right2left = PRINT_DIRECTION
    if settings.justification < 0:
        settings.justification = 2 * settings.right2left


# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------

def argument_chars(words):
    """Yield character codes from command-line words as figlet's Agetchar does."""
    for number, word in enumerate(words):
        yield from word
        if number == len(words) - 1:
            return
        yield NEWLINE if not word else SPACE


def stdin_chars():
    """Yield the bytes of standard input as character codes."""
    data = sys.stdin.buffer.read()
    yield from data


class PushbackReader:
    """A character source with a one-character pushback, returning EOF at the end."""

    def __init__(self, chars):
        """Wrap an iterator of character codes."""
        self.chars = iter(chars)
        self.pushed = None

    def get(self):
        """Return the next character code, or EOF."""
        if self.pushed is not None:
            code, self.pushed = self.pushed, None
            return code
        return next(self.chars, EOF)

    def unget(self, code):
        """Push code back so the next get() returns it."""
        self.pushed = code


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

def char_at(text, index):
    """Return text[index], or NUL past the end (C string semantics)."""
    return text[index] if 0 <= index < len(text) else "\0"


def last_visible(text):
    """Return (index, char) of the last non-blank in text, scanning as figlet does.

    If text is blank, the index is 0 and the char is text[0] (or NUL).
    """
    stripped = text.rstrip(" ")
    if stripped:
        return len(stripped) - 1, stripped[-1]
    return 0, char_at(text, 0)


def first_visible(text):
    """Return (index, char) of the first non-space in text (NUL past the end)."""
    index = len(text) - len(text.lstrip(" "))
    return index, char_at(text, index)


def c_string(chars):
    """Join chars, truncating at the first NUL as a C string would."""
    text = "".join(chars)
    nul = text.find("\0")
    return text if nul < 0 else text[:nul]


class Renderer:
    """FIGlet's line builder: smushing, word wrapping and justified output."""

    def __init__(self, settings, out):
        """Set up an empty output line for the given settings and output stream."""
        self.smushmode = settings.smushmode
        self.right2left = settings.right2left
        self.justification = settings.justification
        self.outputwidth = settings.outputwidth
        self.outlinelenlimit = settings.outputwidth - 1
        self.inchrlinelenlimit = settings.outputwidth * 4 + 100
        self.out = out
        self.currchar = MISSING_GLYPH
        self.currcharwidth = 0
        self.previouscharwidth = 0
        self.clear_line()

    def clear_line(self):
        """Empty the output rows and the record of input characters."""
        self.rows = [""] * HEIGHT
        self.outlinelen = 0
        self.inchrline = []

    def get_letter(self, code):
        """Make code's glyph the current character."""
        self.currchar = GLYPHS_BY_CODE.get(code, MISSING_GLYPH)
        self.previouscharwidth = self.currcharwidth
        self.currcharwidth = len(self.currchar[0])

    def smush_chars(self, left, right):
        """Return the smushed form of two sub-characters, or None if they don't smush."""
        if left == " ":
            return right
        if right == " ":
            return left
        if self.previouscharwidth < 2 or self.currcharwidth < 2:
            return None
        mode = self.smushmode
        if not mode & SM_SMUSH:
            return None
        if not mode & 63:
            if left == HARDBLANK:
                return right
            if right == HARDBLANK:
                return left
            return left if self.right2left == 1 else right
        if mode & SM_HARDBLANK and left == HARDBLANK and right == HARDBLANK:
            return left
        if left == HARDBLANK or right == HARDBLANK:
            return None
        if mode & SM_EQUAL and left == right:
            return left
        if mode & SM_LOWLINE:
            result = smush_lowline(left, right)
            if result:
                return result
        if mode & SM_HIERARCHY:
            result = smush_hierarchy(left, right)
            if result:
                return result
        if mode & SM_PAIR and left + right in ("[]", "][", "{}", "}{", "()", ")("):
            return "|"
        if mode & SM_BIGX:
            return {"/\\": "|", "\\/": "Y", "><": "X"}.get(left + right)
        return None

    def row_boundaries(self, row):
        """Return (amount, left, right) for one row: overlap and facing sub-characters."""
        line = self.rows[row]
        glyph = self.currchar[row]
        if self.right2left:
            left_bd, left = last_visible(glyph)
            right_bd, right = first_visible(line)
            amount = right_bd + self.currcharwidth - 1 - left_bd
        else:
            left_bd, left = last_visible(line)
            right_bd, right = first_visible(glyph)
            amount = right_bd + self.outlinelen - 1 - left_bd
        return amount, left, right

    def smush_amount(self):
        """Return how many columns the current character can overlap the line."""
        if not self.smushmode & (SM_SMUSH | SM_KERN):
            return 0
        maxsmush = self.currcharwidth
        for row in range(HEIGHT):
            if self.right2left:
                maxsmush = min(maxsmush, len(self.rows[row]))
            amount, left, right = self.row_boundaries(row)
            if left in ("\0", " "):
                amount += 1
            elif right != "\0" and self.smush_chars(left, right) is not None:
                amount += 1
            maxsmush = min(maxsmush, amount)
        return maxsmush

    def add_char(self, code):
        """Append code's glyph to the line; return False if it does not fit."""
        self.get_letter(code)
        amount = self.smush_amount()
        if (self.outlinelen + self.currcharwidth - amount > self.outlinelenlimit
                or len(self.inchrline) + 1 > self.inchrlinelenlimit):
            return False
        for row in range(HEIGHT):
            line = self.rows[row]
            glyph = self.currchar[row]
            if self.right2left:
                merged = list(glyph.ljust(self.currcharwidth, "\0"))
                for k in range(amount):
                    column = self.currcharwidth - amount + k
                    merged[column] = self.smush_chars(merged[column], char_at(line, k)) or "\0"
                self.rows[row] = c_string(merged) + line[amount:]
            else:
                start = max(self.outlinelen - amount, 0)
                merged = list(line[start:]) + ["\0"]
                for k in range(amount):
                    column = max(self.outlinelen - amount + k, 0) - start
                    merged[column] = self.smush_chars(merged[column], char_at(glyph, k)) or "\0"
                self.rows[row] = line[:start] + c_string(merged) + glyph[amount:]
        self.outlinelen = len(self.rows[0])
        self.inchrline.append(code)
        return True

    def put_string(self, text):
        """Write one output row, justified, with hardblanks shown as spaces."""
        length = len(text)
        padding = 0
        if self.outputwidth > 1:
            length = min(length, self.outputwidth - 1)
            if self.justification > 0:
                j = self.justification
                while (3 - j) * (padding + 1) + length + j - 2 < self.outputwidth:
                    padding += 1
        row = " " * padding + text[:length].replace(HARDBLANK, " ") + "\n"
        self.out.write(row.encode("utf-8"))

    def print_line(self):
        """Write the current line and start a new one."""
        for row in self.rows:
            self.put_string(row)
        self.clear_line()

    def print_oversized_char(self):
        """Write the current character alone, as figlet does when it is wider than the line."""
        for row in self.currchar:
            if self.right2left and self.outputwidth > 1:
                row = row[max(len(row) - self.outlinelenlimit, 0):]
            self.put_string(row)

    def split_line(self):
        """Break the line at its last run of blanks; print the first part, keep the rest."""
        chars = self.inchrline
        gotspace = False
        lastspace = len(chars) - 1
        index = len(chars) - 1
        while index >= 0:
            if not gotspace and chars[index] == SPACE:
                gotspace = True
                lastspace = index
            if gotspace and chars[index] != SPACE:
                break
            index -= 1
        first_part = chars[:index + 1]
        second_part = chars[lastspace + 1:]
        self.clear_line()
        for code in first_part:
            self.add_char(code)
        self.print_line()
        for code in second_part:
            self.add_char(code)

    def place_char(self, code, wordbreakmode):
        """Add one character, wrapping lines as needed; return the new word-break mode.

        wordbreakmode: -1 absorb blanks after a forced break, 0 line is blank,
        1 word with no break yet, 2 word followed by blanks, 3 word after a break.
        """
        while True:
            if wordbreakmode == -1:
                if code == SPACE:
                    return -1
                if code == NEWLINE:
                    return 0
                wordbreakmode = 0
            if code == NEWLINE:
                self.print_line()
                return 0
            if self.add_char(code):
                if code != SPACE:
                    return 3 if wordbreakmode >= 2 else 1
                return 2 if wordbreakmode > 0 else 0
            if self.outlinelen == 0:
                self.print_oversized_char()
                return -1
            if code == SPACE:
                if wordbreakmode == 2:
                    self.split_line()
                else:
                    self.print_line()
                return -1
            if wordbreakmode >= 2:
                self.split_line()
            else:
                self.print_line()
            wordbreakmode = 1 if wordbreakmode == 3 else 0

    def render(self, reader, paragraph, deutsch):
        """Render every character from reader, then flush the last line."""
        wordbreakmode = 0
        last_was_eol = False
        while True:
            code = reader.get()
            if code == EOF:
                break
            if code == NEWLINE and paragraph and not last_was_eol:
                following = reader.get()
                reader.unget(following)
                code = NEWLINE if is_c_space(following) else SPACE
            last_was_eol = is_c_space(code) and code not in (TAB, SPACE)
            if deutsch:
                code = deutsch_letter(code)
            if is_c_space(code):
                code = SPACE if code in (TAB, SPACE) else NEWLINE
            if 0 < code < SPACE and code != NEWLINE or code == 127:
                continue
            wordbreakmode = self.place_char(code, wordbreakmode)
        if self.outlinelen != 0:
            self.print_line()


def c_strchr(text, char):
    """Return True if C strchr(text, char) would find char (NUL always matches)."""
    return char == "\0" or char in text


def smush_lowline(left, right):
    """Smushing rule 2: an underscore is replaced by a border character."""
    borders = "|/\\[]{}()<>"
    if left == "_" and c_strchr(borders, right):
        return right
    if right == "_" and c_strchr(borders, left):
        return left
    return None


def smush_hierarchy(left, right):
    """Smushing rule 4: the character from the later class in the hierarchy wins."""
    classes = ("|", "/\\", "[]", "{}", "()", "<>")
    for number, members in enumerate(classes[:-1]):
        later = "".join(classes[number + 1:])
        if in_class(left, members) and c_strchr(later, right):
            return right
        if in_class(right, members) and c_strchr(later, left):
            return left
    return None


def in_class(char, members):
    """Return True if char belongs to a hierarchy class ('|' is compared exactly)."""
    return char == "|" if members == "|" else c_strchr(members, char)


def deutsch_letter(code):
    """Map [ \\ ] { | } ~ to the German letters, as figlet's -D option does."""
    if ord("[") <= code <= ord("]"):
        return DEUTSCH[code - ord("[")]
    if ord("{") <= code <= ord("~"):
        return DEUTSCH[code - ord("{") + 3]
    return code


# ---------------------------------------------------------------------------
# Main program
# ---------------------------------------------------------------------------

def write_stderr(data):
    """Write bytes to standard error."""
    sys.stderr.flush()
    sys.stderr.buffer.write(data)
    sys.stderr.buffer.flush()


def main(argv):
    """Run figlet with the given argument list (bytes) and return the exit status."""
    settings = parse_command_line(argv)
    if settings.infoprint >= 0:
        return 0  # Information codes are not supported.
    myname = program_name(argv[0])
    check_resources(settings, myname)
    resolve_layout(settings)
    if settings.cmdinput:
        chars = argument_chars(settings.words)
    else:
        chars = stdin_chars()
    renderer = Renderer(settings, sys.stdout.buffer)
    renderer.render(PushbackReader(chars), settings.paragraph, settings.deutsch)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main([os.fsencode(arg) for arg in sys.argv]))
