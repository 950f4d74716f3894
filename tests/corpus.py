"""Where the test corpus lives: public captures with tshark's truth, kept inside the repository.

``tests/data/corpus`` holds the captures (``pcaps/``), the truth tshark computed for each
(``truth/``), the TLS/QUIC key logs published with three of them (``keylogs/``), their provenance
(``SOURCES.tsv``) and the licences they were published under (``LICENSES/``).
"""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
PCAPS = CORPUS / "pcaps"
TRUTH = CORPUS / "truth"
