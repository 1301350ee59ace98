#!/usr/bin/env python3
"""Opens an office end to end through the public API, so that a schemathesis run reaches
booking and desk operations rather than stopping at 404s.

Usage: seed.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD CONFIG
Writes CONFIG, a schemathesis.toml with the administrator's token and the names of what it
created (offices, bookings and their manage token, slots), which schemathesis then uses for
most of the values it generates.

Rome (RM) is live with document delivery on one calendar of three desks, Monday to Friday,
a fortnight of slots published from the next Monday, one booking made online and one at the
desk, and a closure. Milan (MI) is a draft with nothing in it. Only the standard library.
"""

import datetime
import json
import sys
import urllib.error
import urllib.request

BASE, EMAIL, PASSWORD, CONFIG = sys.argv[1:5]


def call(method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read().decode()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        sys.exit(f"seed: {method} {path} answered {error.code}: {error.read().decode()}")


admin = call("POST", "/api/v1/auth/login", {"email": EMAIL, "password": PASSWORD})["access_token"]

for code, name, city in [("RM", "Roma", "Roma"), ("MI", "Milano", "Milano")]:
    call(
        "POST",
        "/api/v1/offices",
        {
            "code": code,
            "name": f"Sportello Unico per l'Immigrazione di {name}",
            "address": "Via Ostiense 131/L",
            "city": city,
            "province": code,
            "latitude": 41.87,
            "longitude": 12.48,
            "email": f"sui.{code.lower()}@interno.it",
            "languages": ["it", "en", "fr"],
            "patron_day": "06-29",
        },
        admin,
    )

call(
    "PUT",
    "/api/v1/offices/RM/services/document_delivery",
    {"horizon_days": 730, "min_notice_hours": 0},
    admin,
)
calendar = call(
    "POST",
    "/api/v1/offices/RM/calendars",
    {"name": "Sportelli 1-3", "desks": 3, "service_codes": ["document_delivery"]},
    admin,
)
hours = [
    {"weekday": day, "opens": opens, "closes": closes}
    for day in range(1, 6)
    for opens, closes in [("09:00", "12:30"), ("14:00", "16:00")]
]
call("PUT", f"/api/v1/offices/RM/calendars/{calendar['id']}/hours", hours, admin)

today = datetime.date.today()
monday = today + datetime.timedelta(days=7 - today.weekday())
last = monday + datetime.timedelta(days=13)
call("POST", "/api/v1/offices/RM/stage", {"stage": "live"}, admin)
call(
    "POST",
    "/api/v1/offices/RM/slots/publish",
    {"from": monday.isoformat(), "to": last.isoformat()},
    admin,
)
call(
    "POST",
    "/api/v1/offices/RM/closures",
    {
        "from": (last + datetime.timedelta(days=1)).isoformat(),
        "to": (last + datetime.timedelta(days=3)).isoformat(),
        "reason": "Assemblea sindacale",
    },
    admin,
)

free = call(
    "GET",
    f"/api/v1/offices/RM/availability?service=document_delivery&from={monday}&to={last}",
)
seats = [slot["id"] for day in free["days"] for slot in day["slots"]]
web = call(
    "POST",
    "/api/v1/offices/RM/bookings",
    {
        "slot_id": seats[0],
        "case_number": "RM/2026/000001",
        "full_name": "Amina Diallo",
        "email": "amina@example.org",
        "language": "fr",
    },
)
desk = call(
    "POST",
    "/api/v1/offices/RM/bookings",
    {
        "slot_id": seats[1],
        "case_number": "RM/DESK/1",
        "full_name": "Yusuf Karimi",
        "phone": "+39 333 1234567",
        "language": "ar",
    },
    admin,
)


def toml_list(values):
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


dictionaries = {
    "offices": ["RM", "MI"],
    "references": [web["reference"], desk["reference"]],
    "tokens": [web["manage_token"]],
    "services": ["document_delivery"],
    "ids": [1, 2, 3],
    "slots": seats[2:12],
}
parameters = {
    "path.code": "offices",
    "path.reference": "references",
    "header.X-Booking-Token": "tokens",
    "query.token": "tokens",
    "path.type_code": "services",
    "query.service": "services",
    "path.id": "ids",
    "body.slot_id": "slots",
}
with open(CONFIG, "w") as config:
    config.write("# Written by .ci/seed.py for one run.\n\n")
    config.write(f'[auth.openapi.bearer]\nbearer = "{admin}"\n\n')
    for name, values in dictionaries.items():
        config.write(f"[dictionaries.{name}]\nvalues = {toml_list(values)}\n\n")
    config.write("[parameters]\n")
    for key, name in parameters.items():
        config.write(f'"{key}" = {{ dictionary = "{name}", probability = 0.8 }}\n')
