"""Writes the HTML5 named character references that Python's html.unescape uses (html.entities.html5) as a TSV
resource for the CLIP text cleaner: one line per name (with or without the trailing ';', exactly as in the table),
a tab, then the code points in hex separated by spaces.

Requirements: python >= 3.9 (standard library only).
    python models/scripts/gen_html5_entities.py > java/src/main/resources/io/vlm4j/text/html5-entities.tsv
"""
import html.entities
import sys

for name in sorted(html.entities.html5):
    value = html.entities.html5[name]
    sys.stdout.write(name + "\t" + " ".join("%X" % ord(c) for c in value) + "\n")
