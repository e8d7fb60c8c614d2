"""Country names, for questions that ask "which country": the answer must name one.

Sovereign states and a few widely used territory names, with the common short and long forms
("United States", "U.S.", "Viet Nam"). Matching is by whole words; a demonym such as
"Malaysians" counts as its country when the question names it.
"""

from __future__ import annotations

import re

COUNTRIES = (
    "Afghanistan", "Albania", "Algeria", "Andorra", "Angola", "Antigua and Barbuda", "Argentina", "Armenia",
    "Australia", "Austria", "Azerbaijan", "Bahamas", "Bahrain", "Bangladesh", "Barbados", "Belarus", "Belgium",
    "Belize", "Benin", "Bhutan", "Bolivia", "Bosnia and Herzegovina", "Botswana", "Brazil", "Brunei",
    "Brunei Darussalam", "Bulgaria", "Burkina Faso", "Burundi", "Cabo Verde", "Cape Verde", "Cambodia",
    "Cameroon", "Canada", "Central African Republic", "Chad", "Chile", "China", "People's Republic of China",
    "Colombia", "Comoros", "Congo", "Costa Rica", "Côte d'Ivoire", "Ivory Coast", "Croatia", "Cuba", "Cyprus",
    "Czechia", "Czech Republic", "Denmark", "Djibouti", "Dominica", "Dominican Republic", "Ecuador", "Egypt",
    "El Salvador", "Equatorial Guinea", "Eritrea", "Estonia", "Eswatini", "Ethiopia", "Fiji", "Finland",
    "France", "Gabon", "Gambia", "Georgia", "Germany", "Ghana", "Greece", "Grenada", "Guatemala", "Guinea",
    "Guinea-Bissau", "Guyana", "Haiti", "Honduras", "Hungary", "Iceland", "India", "Indonesia", "Iran", "Iraq",
    "Ireland", "Israel", "Italy", "Jamaica", "Japan", "Jordan", "Kazakhstan", "Kenya", "Kiribati", "Kosovo",
    "Kuwait", "Kyrgyzstan", "Laos", "Lao PDR", "Lao", "Latvia", "Lebanon", "Lesotho", "Liberia", "Libya",
    "Liechtenstein", "Lithuania", "Luxembourg", "Madagascar", "Malawi", "Malaysia", "Maldives", "Mali", "Malta",
    "Marshall Islands", "Mauritania", "Mauritius", "Mexico", "Micronesia", "Moldova", "Monaco", "Mongolia",
    "Montenegro", "Morocco", "Mozambique", "Myanmar", "Burma", "Namibia", "Nauru", "Nepal", "Netherlands",
    "New Zealand", "Nicaragua", "Niger", "Nigeria", "North Korea", "North Macedonia", "Norway", "Oman",
    "Pakistan", "Palau", "Palestine", "Panama", "Papua New Guinea", "Paraguay", "Peru", "Philippines", "Poland",
    "Portugal", "Qatar", "Romania", "Russia", "Russian Federation", "Rwanda", "Saint Kitts and Nevis",
    "Saint Lucia", "Saint Vincent and the Grenadines", "Samoa", "San Marino", "Sao Tome and Principe",
    "Saudi Arabia", "Senegal", "Serbia", "Seychelles", "Sierra Leone", "Singapore", "Slovakia", "Slovenia",
    "Solomon Islands", "Somalia", "South Africa", "South Korea", "Republic of Korea", "Korea", "South Sudan",
    "Spain", "Sri Lanka", "Sudan", "Suriname", "Sweden", "Switzerland", "Syria", "Taiwan", "Tajikistan",
    "Tanzania", "Thailand", "Timor-Leste", "East Timor", "Togo", "Tonga", "Trinidad and Tobago", "Tunisia",
    "Turkey", "Türkiye", "Turkmenistan", "Tuvalu", "Uganda", "Ukraine", "United Arab Emirates", "UAE",
    "United Kingdom", "UK", "U.K.", "Britain", "Great Britain", "United States", "United States of America",
    "U.S.", "U.S.A.", "USA", "America", "Uruguay", "Uzbekistan", "Vanuatu", "Vatican", "Venezuela", "Vietnam",
    "Viet Nam", "Yemen", "Zambia", "Zimbabwe", "Hong Kong", "Macau", "Macao",
    # former states that documents still name
    "Soviet Union", "USSR", "Yugoslavia", "Czechoslovakia", "East Germany", "West Germany", "Zaire", "Siam",
)

# longest first: "South Korea" before "Korea"
_NAMES = "|".join(re.escape(name) for name in sorted(COUNTRIES, key=len, reverse=True))
_COUNTRY = re.compile(rf"(?<![\w.])({_NAMES})(?![\w])")
_COUNTRY_STEM = re.compile(rf"(?<![\w.])({_NAMES})")  # also the start of a word: "Malaysians"
COUNTRY_QUESTION = re.compile(r"\b(which|what) (other )?(countr(y|ies)|nations?)\b|\bin which countr", re.IGNORECASE)


def mentions_countries(text: str) -> bool:
    """Does the text name a country we know, or its people by a word that starts with it ("Malaysians")?"""
    return bool(_COUNTRY_STEM.search(text))


def countries(text: str) -> set[str]:
    """The country names in the text, as written."""
    return {m.group(1) for m in _COUNTRY.finditer(text)}


def new_countries(sentence: str, question: str) -> set[str]:
    """Countries the sentence names that the question does not (nor their demonyms: a question
    about "Malaysians" names Malaysia)."""
    asked = question.lower()
    return {c for c in countries(sentence) if c.lower().rstrip(".") not in asked}
