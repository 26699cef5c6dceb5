"""Deterministic seeding of the mock enterprise.

Everything comes from ``random.Random(seed)`` plus hand-written scenario rows, so the same
seed always produces the same business data. The business date is fixed
(:data:`BUSINESS_DATE`, 2026-03-02): nothing here reads the wall clock.

Curated scenarios (the policy threshold is $25,000 for purchase orders, $500 for refunds;
see :data:`SCENARIOS` for the same facts as data):

* ``SH-0001`` -- ocean shipment from SUP-001 (Hamburg) to DC-EAST, ETA 2026-03-04, 400 x
  SKU-001 and 300 x SKU-002. A 5-day delay (new ETA 2026-03-09) leaves SO-0001 (CUST-001,
  platinum), SO-0002 (CUST-002, gold), SO-0003 (CUST-003, silver) and SO-0004 (CUST-004,
  bronze) short: 270 x SKU-001 and 120 x SKU-002. Other DCs can spare 100 and 30; the rest
  becomes ONE purchase order from approved SUP-001 for 170 x SKU-001 @ $172 and 90 x
  SKU-002 @ $146 = **$42,380.00**, above the approval threshold. SO-0011 is due after the
  new ETA and is not affected. The unapproved SUP-013 is cheaper for SKU-001 and must not
  be chosen.
* ``SH-0002`` -- truck shipment from SUP-006 to DC-WEST, ETA 2026-03-05, 200 x SKU-003. A
  5-day delay leaves SO-0005 (CUST-009, gold) and SO-0006 (CUST-010, silver) short by 65
  units; no other DC has spare stock, so ONE purchase order from SUP-006 for 65 x SKU-003
  @ $131 = **$8,515.00**, below the threshold. The low-ESG SUP-017 is cheaper but ranks
  lower on price per unit of reliability.
* ``SH-0003`` -- rail shipment to DC-CENTRAL, ETA 2026-03-06, 120 x SKU-005. A 5-day delay
  leaves SO-0007 (CUST-003) and SO-0008 (CUST-001) short by 50; transfers of 30 from
  DC-EAST and 20 from DC-SOUTH cover it fully, so no purchase order.
* ``SH-0004`` -- ocean shipment to DC-SOUTH, ETA 2026-03-10, SKU-006. A delay of up to 14
  days affects no order: SO-0010 is due earlier but covered by stock, SO-0009 is due after
  the new ETA.
* Support: ``INV-0001`` ($189.00, CUST-005 silver) was charged twice -- disputed,
  refundable, under the $500 auto-refund limit -- with open billing ticket ``TCK-0001``.
  ``INV-0002`` ($2,460.00, CUST-008 platinum) is disputed for damaged goods ($738.00), with
  ticket ``TCK-0004``. ``TCK-0002`` (CUST-006 bronze) is a technical question: sync fails
  with error 401 after a password change. ``TCK-0003`` (CUST-007 gold) asks to upgrade
  from the pro plan to enterprise.
* Compliance: ``SUP-013`` is not approved (and 71% reliable); ``SUP-017`` has an ESG score
  of 32; ``SUP-019`` has weak financial health (24/100). ``SUP-021`` fails only the
  approved-supplier rule and ``SUP-022`` only the reliability rule (74%); both sell SKU-004.
* Budgets: cost centre ``CC-CAPEX`` has room for one order above the $250,000 single-PO
  ceiling, so that rule can fail on its own.
* Backorders: about a quarter of the random shipments (:data:`BACKORDER_SHARE`) feed an open
  order (SO-0201 on) promised one to four days after the shipment's ETA, for more than the DC
  has left, so a delay of a few days leaves it short: these exercise transfers, purchase
  orders and notices beyond the curated four. They are added last, from their own random
  stream, so every other record is the same as without them; the random shipments that the
  curated eval cases treat as having no impact (:data:`QUIET_SHIPMENTS`) are never fed.

Each shipment scenario gives the same orders, transfers and totals for any delay in its
``same_for_delay_days`` range (SH-0001: 5-16 days; a 4-day delay still needs one PO above
the threshold, $29,240). Random data never uses the scenario SKUs (SKU-001, -002, -003,
-005, -006) in open orders or shipments, so the scenarios hold for every seed.
"""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from typing import Any, Sequence

from opsgraph.tools.connectors.base import Conn
from opsgraph.tools.connectors.demand import seed_demand

BUSINESS_DATE = date(2026, 3, 2)

SCENARIOS: dict[str, dict[str, Any]] = {
    "po_above_threshold": {
        "shipment_id": "SH-0001", "dc_id": "DC-EAST", "delay_days": 5, "new_eta": "2026-03-09",
        "same_for_delay_days": (5, 16),
        "affected_orders": ["SO-0001", "SO-0002", "SO-0003", "SO-0004"],
        "customers": {"CUST-001": "platinum", "CUST-002": "gold", "CUST-003": "silver", "CUST-004": "bronze"},
        "shortfall": {"SKU-001": 270, "SKU-002": 120},
        "transfers": [("SKU-001", "DC-WEST", 60), ("SKU-001", "DC-CENTRAL", 40),
                      ("SKU-002", "DC-CENTRAL", 20), ("SKU-002", "DC-WEST", 10)],
        "purchase_order": {"supplier_id": "SUP-001", "lines": {"SKU-001": 170, "SKU-002": 90}, "total_usd": 42380.00},
        "unaffected_orders": ["SO-0011"],
    },
    "po_below_threshold": {
        "shipment_id": "SH-0002", "dc_id": "DC-WEST", "delay_days": 5, "new_eta": "2026-03-10",
        "same_for_delay_days": (4, 60),
        "affected_orders": ["SO-0005", "SO-0006"],
        "customers": {"CUST-009": "gold", "CUST-010": "silver"},
        "shortfall": {"SKU-003": 65},
        "transfers": [],
        "purchase_order": {"supplier_id": "SUP-006", "lines": {"SKU-003": 65}, "total_usd": 8515.00},
    },
    "transfers_only": {
        "shipment_id": "SH-0003", "dc_id": "DC-CENTRAL", "delay_days": 5, "new_eta": "2026-03-11",
        "same_for_delay_days": (4, 60),
        "affected_orders": ["SO-0007", "SO-0008"],
        "customers": {"CUST-003": "silver", "CUST-001": "platinum"},
        "shortfall": {"SKU-005": 50},
        "transfers": [("SKU-005", "DC-EAST", 30), ("SKU-005", "DC-SOUTH", 20)],
        "purchase_order": None,
    },
    "no_impact": {
        "shipment_id": "SH-0004", "dc_id": "DC-SOUTH", "delay_days": 5, "new_eta": "2026-03-15",
        "same_for_delay_days": (1, 14),
        "affected_orders": [], "unaffected_orders": ["SO-0009", "SO-0010"],
    },
    "duplicate_charge": {
        "invoice_id": "INV-0001", "ticket_id": "TCK-0001", "customer_id": "CUST-005", "tier": "silver",
        "order_id": "SO-0012", "amount_usd": 189.00, "refundable_usd": 378.00,
    },
    "large_dispute": {
        "invoice_id": "INV-0002", "ticket_id": "TCK-0004", "customer_id": "CUST-008", "tier": "platinum",
        "order_id": "SO-0013", "amount_usd": 2460.00, "disputed_usd": 738.00,
    },
    "technical_question": {"ticket_id": "TCK-0002", "customer_id": "CUST-006", "tier": "bronze"},
    "plan_upgrade": {"ticket_id": "TCK-0003", "customer_id": "CUST-007", "tier": "gold",
                     "from_plan": "pro", "to_plan": "enterprise"},
    "unapproved_supplier": {"supplier_id": "SUP-013"},
    "low_esg_supplier": {"supplier_id": "SUP-017", "esg_score": 32},
    "weak_financials_supplier": {"supplier_id": "SUP-019", "financial_health": 24},
}

# Share of the random shipments that feed an open order the DC cannot cover without them.
BACKORDER_SHARE = 0.25
# Random shipments the curated eval cases delay as "no order waits on it": never fed a backorder.
QUIET_SHIPMENTS = frozenset({"SH-0005", "SH-0006", "SH-0007", "SH-0010", "SH-0022", "SH-0028", "SH-0057"})
SCENARIO_SKUS = frozenset({"SKU-001", "SKU-002", "SKU-003", "SKU-005", "SKU-006"})
TIERS = ("platinum", "gold", "silver", "bronze")
PLANS = ("basic", "pro", "enterprise")
N_SKUS, N_CUSTOMERS, N_ORDERS, N_SHIPMENTS, N_POS, N_TICKETS = 48, 100, 200, 60, 24, 40

DCS = [
    ("DC-EAST", "East Coast DC", "Newark, NJ", "northeast"),
    ("DC-WEST", "West Coast DC", "Reno, NV", "west"),
    ("DC-CENTRAL", "Central DC", "Kansas City, MO", "midwest"),
    ("DC-SOUTH", "South DC", "Dallas, TX", "south"),
]
DC_IDS = [dc[0] for dc in DCS]

# category -> (item names, unit cost range, weight range in kg)
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[float, float], tuple[float, float]]] = {
    "motors": (("Gear motor", "Stepper motor", "Brushless DC motor", "Fan motor"), (80, 400), (2, 18)),
    "electronics": (("PLC I/O module", "Power supply 24V", "HMI touch panel", "Relay module"), (40, 600), (0.3, 4)),
    "hydraulics": (("Hydraulic cylinder", "Valve manifold", "Hose assembly", "Filter element"), (40, 350), (1, 20)),
    "sensors": (("Proximity sensor", "Temperature probe", "Flow meter", "Load cell"), (20, 180), (0.1, 2)),
    "safety": (("Safety relay", "Emergency stop button", "Guard door switch", "Safety gloves box"), (15, 250), (0.2, 3)),
    "packaging": (("Corrugated box bundle", "Pallet wrap", "Void fill bags", "Strapping kit"), (5, 40), (1, 12)),
    "fasteners": (("Hex bolt kit", "Anchor set", "Lock washer pack", "Rivet assortment"), (4, 30), (0.5, 6)),
    "cables": (("Ethernet cable Cat6", "Power cable 3x2.5", "Sensor cable M12", "Cable tray section"), (10, 120), (1, 15)),
}

# sku_id, name, category, unit_cost, unit_price, weight_kg
CURATED_SKUS = [
    ("SKU-001", "Servo motor 750W SM-750", "motors", 165.00, 289.00, 6.5),
    ("SKU-002", "Servo drive controller SD-20", "electronics", 138.00, 245.00, 2.8),
    ("SKU-003", "Hydraulic gear pump HP-40", "hydraulics", 121.00, 219.00, 14.0),
    ("SKU-004", "Pressure transmitter PT-10", "sensors", 64.00, 119.00, 0.6),
    ("SKU-005", "Safety light curtain LC-900", "safety", 212.00, 365.00, 3.2),
    ("SKU-006", "Stretch film roll 500mm", "packaging", 9.50, 17.90, 2.4),
    ("SKU-007", "Shielded control cable 100m CC-100", "cables", 34.00, 63.00, 9.0),
    ("SKU-008", "Hex bolt M12 box of 100", "fasteners", 33.00, 61.50, 4.5),
]

# supplier_id, name, country, category; curated attributes below override the random ones
SUPPLIERS = [
    ("SUP-001", "Kestrel Motion Systems", "DE", "motors"), ("SUP-002", "Bayline Packaging", "US", "packaging"),
    ("SUP-003", "Northgate Safety Products", "CA", "safety"), ("SUP-004", "Vantor Drives", "US", "motors"),
    ("SUP-005", "Lumen Sensorik", "DE", "sensors"), ("SUP-006", "Sierra Fluid Power", "MX", "hydraulics"),
    ("SUP-007", "Orion Cable Works", "US", "cables"), ("SUP-008", "Pacific Rim Films", "VN", "packaging"),
    ("SUP-009", "Helix Automation", "JP", "motors"), ("SUP-010", "Delta Hydraulik", "IT", "hydraulics"),
    ("SUP-011", "Cobalt Electronics", "TW", "electronics"), ("SUP-012", "Ridgeway Fasteners", "US", "fasteners"),
    ("SUP-013", "Shenlong Industrial Trading", "CN", "motors"), ("SUP-014", "Aurora Sensor Tech", "FI", "sensors"),
    ("SUP-015", "Granite Fastening Supply", "CA", "fasteners"), ("SUP-016", "Tidewater Supply", "US", "packaging"),
    ("SUP-017", "Meridian Hydraulics Co.", "IN", "hydraulics"), ("SUP-018", "Polaris Controls", "SE", "electronics"),
    ("SUP-019", "Redline Components", "US", "electronics"), ("SUP-020", "Everstone Safety", "GB", "safety"),
]
# supplier_id -> (approved, reliability, esg_score, lead_time_days, financial_health)
CURATED_SUPPLIER_ATTRS = {
    "SUP-001": (1, 0.95, 78, 21, 82), "SUP-003": (1, 0.93, 74, 9, 80), "SUP-004": (1, 0.82, 66, 10, 71),
    "SUP-006": (1, 0.91, 72, 12, 77), "SUP-008": (1, 0.87, 63, 30, 69), "SUP-009": (1, 0.90, 81, 28, 88),
    "SUP-010": (1, 0.86, 69, 18, 64), "SUP-011": (1, 0.88, 70, 24, 75), "SUP-013": (0, 0.71, 58, 35, 52),
    "SUP-017": (1, 0.84, 32, 26, 61), "SUP-019": (1, 0.83, 60, 8, 24),
}
# Suppliers added after the first twenty, each failing exactly one procurement rule so a review
# case can isolate it: supplier_id, name, country, category, approved, reliability, esg_score,
# lead_time_days, financial_health, [(sku_id, unit_price)]. SKU-004 sells for at most $71.68
# elsewhere, so SUP-022 is never the cheapest or the best value and changes no existing plan.
EXTRA_SUPPLIERS = [
    ("SUP-021", "Nordlicht Messtechnik", "DE", "sensors", 0, 0.92, 76, 12, 80, [("SKU-004", 62.00)]),
    ("SUP-022", "Coastline Instruments", "US", "sensors", 1, 0.74, 71, 10, 73, [("SKU-004", 79.00)]),
]
# Price lists of the scenario SKUs, written by hand so the planner's choice is known.
CURATED_PRICES = [
    ("SUP-001", "SKU-001", 172.00), ("SUP-004", "SKU-001", 176.00), ("SUP-009", "SKU-001", 181.00),
    ("SUP-013", "SKU-001", 149.00),
    ("SUP-001", "SKU-002", 146.00), ("SUP-004", "SKU-002", 139.00), ("SUP-011", "SKU-002", 152.00),
    ("SUP-019", "SKU-002", 134.00),
    ("SUP-006", "SKU-003", 131.00), ("SUP-010", "SKU-003", 136.00), ("SUP-017", "SKU-003", 127.00),
    ("SUP-003", "SKU-005", 218.00), ("SUP-020", "SKU-005", 225.00),
    ("SUP-008", "SKU-006", 9.20), ("SUP-002", "SKU-006", 10.10), ("SUP-016", "SKU-006", 9.90),
]
# sku_id -> on_hand, reserved, reorder_point per DC in DC_IDS order
CURATED_STOCK = {
    "SKU-001": [(130, 30, 40), (110, 10, 40), (95, 15, 40), (35, 0, 40)],
    "SKU-002": [(90, 10, 30), (40, 0, 30), (50, 0, 30), (25, 5, 30)],
    "SKU-003": [(30, 0, 30), (45, 5, 25), (25, 0, 25), (20, 0, 25)],
    "SKU-005": [(55, 5, 20), (20, 0, 20), (30, 10, 15), (45, 0, 20)],
    "SKU-006": [(300, 20, 100), (260, 0, 100), (240, 10, 100), (150, 0, 60)],
}

CARRIERS = [
    ("CAR-01", "BlueWave Ocean Lines", 0.88, "ocean", 900.0),
    ("CAR-02", "Prairie Rail Freight", 0.91, "rail,truck", 400.0),
    ("CAR-03", "Interstate Express Trucking", 0.94, "truck", 250.0),
    ("CAR-04", "Meridian Shipping", 0.86, "ocean", 850.0),
    ("CAR-05", "SkyBridge Air Cargo", 0.96, "air", 600.0),
    ("CAR-06", "Northstar Logistics", 0.93, "truck,air", 450.0),
]
PORT_CITIES = {
    "DE": "Hamburg", "CA": "Toronto", "US": "Chicago", "MX": "Monterrey", "VN": "Ho Chi Minh City",
    "JP": "Yokohama", "IT": "Genoa", "TW": "Kaohsiung", "CN": "Shenzhen", "FI": "Helsinki",
    "IN": "Chennai", "SE": "Gothenburg", "GB": "Felixstowe",
}
LAND_COUNTRIES = frozenset({"US", "CA", "MX"})

BUDGETS = [
    ("CC-OPS", "Operations", 400000.0, 262500.0), ("CC-LOG", "Logistics", 150000.0, 98200.0),
    ("CC-IT", "Information technology", 220000.0, 201750.0), ("CC-FIN", "Finance", 60000.0, 21400.0),
    ("CC-MKT", "Marketing", 90000.0, 88900.0), ("CC-CAPEX", "Capital projects", 1200000.0, 150000.0),
]
BUDGET_PERIOD = "2026-Q1"

# customer_id, name, tier, plan, region
CURATED_CUSTOMERS = [
    ("CUST-001", "Harbor Point Manufacturing", "platinum", "enterprise", "northeast"),
    ("CUST-002", "Bluegrass Assembly Co.", "gold", "pro", "south"),
    ("CUST-003", "Crescent Robotics", "silver", "pro", "midwest"),
    ("CUST-004", "Pinewood Fabrication", "bronze", "basic", "northeast"),
    ("CUST-005", "Lakeside Packaging Ltd.", "silver", "pro", "midwest"),
    ("CUST-006", "Summit Field Services", "bronze", "basic", "south"),
    ("CUST-007", "Redwood Analytics", "gold", "pro", "west"),
    ("CUST-008", "Atlas Heavy Industries", "platinum", "enterprise", "midwest"),
    ("CUST-009", "Cascade Tooling", "gold", "pro", "west"),
    ("CUST-010", "Mesa Components", "silver", "basic", "west"),
]
NAME_PREFIXES = (
    "Northwind", "Granite", "Silverline", "Oakridge", "Ironbridge", "Bluefin", "Copperleaf", "Riverbend",
    "Stonegate", "Highland", "Brightwater", "Evergreen", "Westfield", "Falcon", "Harborview", "Maple",
    "Sterling", "Keystone", "Clearwater", "Foxglove", "Lighthouse", "Driftwood", "Juniper", "Prairie",
)
NAME_SUFFIXES = (
    "Manufacturing", "Logistics", "Foods", "Retail", "Components", "Industries", "Supply Co.",
    "Electronics", "Packaging", "Labs", "Automotive", "Hardware", "Systems", "Trading",
)
REGIONS = ("northeast", "south", "midwest", "west")

# order_id, customer_id, dc_id, status, order_date, promised_date, [(sku_id, quantity)]
CURATED_ORDERS = [
    ("SO-0001", "CUST-001", "DC-EAST", "open", "2026-02-16", "2026-03-05", [("SKU-001", 150)]),
    ("SO-0002", "CUST-002", "DC-EAST", "open", "2026-02-18", "2026-03-06", [("SKU-001", 120), ("SKU-002", 90)]),
    ("SO-0003", "CUST-003", "DC-EAST", "open", "2026-02-19", "2026-03-07", [("SKU-001", 100)]),
    ("SO-0004", "CUST-004", "DC-EAST", "open", "2026-02-20", "2026-03-08", [("SKU-002", 110)]),
    ("SO-0005", "CUST-009", "DC-WEST", "open", "2026-02-20", "2026-03-06", [("SKU-003", 60)]),
    ("SO-0006", "CUST-010", "DC-WEST", "open", "2026-02-22", "2026-03-08", [("SKU-003", 45)]),
    ("SO-0007", "CUST-003", "DC-CENTRAL", "open", "2026-02-21", "2026-03-07", [("SKU-005", 40)]),
    ("SO-0008", "CUST-001", "DC-CENTRAL", "open", "2026-02-23", "2026-03-09", [("SKU-005", 30)]),
    ("SO-0009", "CUST-004", "DC-SOUTH", "open", "2026-02-25", "2026-03-25", [("SKU-006", 300)]),
    ("SO-0010", "CUST-006", "DC-SOUTH", "open", "2026-02-24", "2026-03-04", [("SKU-006", 20)]),
    ("SO-0011", "CUST-010", "DC-EAST", "open", "2026-02-26", "2026-03-20", [("SKU-001", 50)]),
    ("SO-0012", "CUST-005", "DC-EAST", "delivered", "2026-02-10", "2026-02-17", [("SKU-007", 3)]),
    ("SO-0013", "CUST-008", "DC-CENTRAL", "delivered", "2026-02-05", "2026-02-12", [("SKU-008", 40)]),
]

# shipment_id, supplier_id, carrier_id, mode, country, dc_id, eta, [(sku_id, quantity)]
CURATED_SHIPMENTS = [
    ("SH-0001", "SUP-001", "CAR-01", "ocean", "DE", "DC-EAST", "2026-03-04", [("SKU-001", 400), ("SKU-002", 300)]),
    ("SH-0002", "SUP-006", "CAR-03", "truck", "MX", "DC-WEST", "2026-03-05", [("SKU-003", 200)]),
    ("SH-0003", "SUP-003", "CAR-02", "rail", "CA", "DC-CENTRAL", "2026-03-06", [("SKU-005", 120)]),
    ("SH-0004", "SUP-008", "CAR-04", "ocean", "VN", "DC-SOUTH", "2026-03-10", [("SKU-006", 1200)]),
]

# invoice_id, customer_id, order_id, amount, status, issued, due, dispute_reason, disputed_usd
CURATED_INVOICES = [
    ("INV-0001", "CUST-005", "SO-0012", 189.00, "disputed", "2026-02-17", "2026-03-19",
     "duplicate charge: the card was charged twice on 2026-02-20", 189.00),
    ("INV-0002", "CUST-008", "SO-0013", 2460.00, "disputed", "2026-02-06", "2026-03-08",
     "12 of 40 boxes arrived damaged", 738.00),
]
# payment_id, invoice_id, amount, paid_date, method
CURATED_PAYMENTS = [
    ("PAY-0001", "INV-0001", 189.00, "2026-02-20", "card"),
    ("PAY-0002", "INV-0001", 189.00, "2026-02-20", "card"),
    ("PAY-0003", "INV-0002", 2460.00, "2026-02-10", "wire"),
]
# ticket_id, customer_id, subject, body, status, priority, category, opened_date
CURATED_TICKETS = [
    ("TCK-0001", "CUST-005", "Charged twice for invoice INV-0001",
     "Hello, our card was charged $189.00 twice on 20 February for invoice INV-0001 (order SO-0012). "
     "Please refund the duplicate charge.", "open", "normal", "billing", "2026-02-27"),
    ("TCK-0002", "CUST-006", "Sync fails with error 401 after password change",
     "Since I changed my account password yesterday, the inventory sync to our ERP stops with "
     "'error 401 unauthorized'. What do I need to do?", "open", "normal", "technical", "2026-02-28"),
    ("TCK-0003", "CUST-007", "Upgrade to the enterprise plan",
     "We would like to move from the pro plan to the enterprise plan starting this month. "
     "Please upgrade our account.", "open", "normal", "account", "2026-03-01"),
    ("TCK-0004", "CUST-008", "Dispute: damaged goods on invoice INV-0002",
     "We request a refund of $738.00: 12 of the 40 boxes on order SO-0013 (invoice INV-0002) arrived "
     "damaged.", "open", "high", "billing", "2026-02-26"),
]
TICKET_TEMPLATES = {
    "billing": ("Question about invoice", "Please send a copy of our latest invoice with the PO number on it."),
    "technical": ("API rate limit errors", "Our integration receives HTTP 429 responses during the nightly sync."),
    "account": ("Add a user to our account", "Please give our new buyer access to the customer portal."),
}
PO_REASONS = ("Quarterly replenishment", "Restock below reorder point", "Seasonal demand build", "New customer contract")
APPROVER = "m.alvarez (operations manager)"


def seed_world(conn: Conn, seed: int) -> None:
    """Fill an empty schema with the company for ``seed`` (caller owns the transaction)."""
    rng = random.Random(seed)
    skus = _seed_catalog(conn, rng)
    offers = _seed_suppliers(conn, rng, skus)
    customers = _seed_customers(conn, rng)
    orders = _seed_orders(conn, rng, skus, customers)
    _insert(conn, "carriers", CARRIERS)
    _insert(conn, "budgets", [(cc, name, amount, spent, BUDGET_PERIOD) for cc, name, amount, spent in BUDGETS])
    _seed_shipments(conn, rng, offers)
    _seed_purchase_orders(conn, rng, offers)
    _seed_billing(conn, rng, orders)
    _seed_tickets(conn, rng, customers)
    _seed_backorders(conn, random.Random(f"backorders-{seed}"))
    _seed_extra_suppliers(conn)
    seed_demand(conn, BUSINESS_DATE, seed)  # own random stream: every record above is as before
    from opsgraph.tools.seed_payables import seed_payables

    seed_payables(conn)
    _insert(conn, "meta", [("seed", str(seed)), ("business_date", BUSINESS_DATE.isoformat())])


def _insert(conn: Conn, table: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def _day(offset: int) -> str:
    return (BUSINESS_DATE + timedelta(days=offset)).isoformat()


def _seed_catalog(conn: Conn, rng: random.Random) -> dict[str, tuple]:
    """SKUs, DCs and stock; returns sku_id -> sku row."""
    skus = {row[0]: row for row in CURATED_SKUS}
    names = list(CATEGORIES)
    for number in range(len(CURATED_SKUS) + 1, N_SKUS + 1):
        category = names[number % len(names)]
        items, (low, high), (w_low, w_high) = CATEGORIES[category]
        cost = round(rng.uniform(low, high), 2)
        name = f"{rng.choice(items)} {category[:2].upper()}-{rng.randint(100, 999)}"
        sku_id = f"SKU-{number:03d}"
        skus[sku_id] = (sku_id, name, category, cost, round(cost * rng.uniform(1.35, 1.8), 2),
                        round(rng.uniform(w_low, w_high), 1))
    _insert(conn, "skus", list(skus.values()))
    _insert(conn, "dcs", DCS)
    _insert(conn, "stock", _stock_rows(rng, skus))
    return skus


def _stock_rows(rng: random.Random, skus: dict[str, tuple]) -> list[tuple]:
    rows = []
    for sku_id in skus:
        for index, dc_id in enumerate(DC_IDS):
            if sku_id in CURATED_STOCK:
                on_hand, reserved, reorder = CURATED_STOCK[sku_id][index]
            else:
                on_hand, reserved, reorder = rng.randint(40, 600), rng.randint(0, 30), rng.randint(30, 120)
            rows.append((dc_id, sku_id, on_hand, reserved, reorder))
    return rows


def _seed_suppliers(conn: Conn, rng: random.Random, skus: dict[str, tuple]) -> dict[str, list]:
    """Suppliers, price lists and performance history; returns supplier_id -> [(sku_id, price)]."""
    rows = []
    for supplier_id, name, country, category in SUPPLIERS:
        attrs = CURATED_SUPPLIER_ATTRS.get(supplier_id) or (
            1, round(rng.uniform(0.80, 0.97), 2), rng.randint(55, 92), rng.randint(7, 35), rng.randint(55, 95))
        rows.append((supplier_id, name, country, category, *attrs))
    _insert(conn, "suppliers", rows)
    prices = list(CURATED_PRICES) + _random_prices(rng, skus)
    _insert(conn, "supplier_prices", prices)
    _insert(conn, "supplier_performance", _performance_rows(rng, rows))
    offers: dict[str, list] = {s[0]: [] for s in SUPPLIERS}
    for supplier_id, sku_id, price in prices:
        offers[supplier_id].append((sku_id, price))
    return offers


def _random_prices(rng: random.Random, skus: dict[str, tuple]) -> list[tuple]:
    rows = []
    for sku_id, (_, _, category, cost, _, _) in skus.items():
        if sku_id in SCENARIO_SKUS:
            continue
        same = [s[0] for s in SUPPLIERS if s[3] == category]
        others = [s[0] for s in SUPPLIERS if s[3] != category]
        # Several quotes per SKU: the category specialists plus at least one generalist.
        chosen = same + rng.sample(others, max(1, rng.randint(3, 4) - len(same)))
        for supplier_id in sorted(set(chosen)):
            rows.append((supplier_id, sku_id, round(cost * rng.uniform(0.92, 1.12), 2)))
    return rows


def _performance_rows(rng: random.Random, suppliers: list[tuple]) -> list[tuple]:
    rows = []
    for supplier in suppliers:
        supplier_id, reliability = supplier[0], supplier[5]
        for period in ("2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1"):
            deliveries = rng.randint(6, 30)
            rate = min(1.0, max(0.0, reliability + rng.uniform(-0.05, 0.05)))
            defects = rng.uniform(0.03, 0.08) if supplier_id == "SUP-013" else rng.uniform(0.002, 0.025)
            rows.append((supplier_id, period, deliveries, round(deliveries * rate), round(defects, 3)))
    return rows


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _seed_customers(conn: Conn, rng: random.Random) -> dict[str, str]:
    """Customers; returns customer_id -> tier."""
    rows = [(cid, name, f"ops@{_slug(name)}.example.com", tier, plan, region, _day(-rng.randint(200, 3000)))
            for cid, name, tier, plan, region in CURATED_CUSTOMERS]
    pairs = [f"{p} {s}" for p in NAME_PREFIXES for s in NAME_SUFFIXES]
    names = rng.sample(pairs, N_CUSTOMERS - len(rows))
    for number, name in enumerate(names, start=len(rows) + 1):
        tier = rng.choices(TIERS, weights=(10, 20, 35, 35))[0]
        plan = "enterprise" if tier == "platinum" else rng.choice(PLANS[:2] if tier == "bronze" else PLANS)
        rows.append((f"CUST-{number:03d}", name, f"ops@{_slug(name)}.example.com", tier, plan,
                     rng.choice(REGIONS), _day(-rng.randint(30, 3000))))
    _insert(conn, "customers", rows)
    return {row[0]: row[3] for row in rows}


def _seed_orders(conn: Conn, rng: random.Random, skus: dict[str, tuple],
                 customers: dict[str, str]) -> list[tuple]:
    """Sales orders with lines; returns (order_id, customer_id, status, order_date, total) rows."""
    orders = [o[:6] for o in CURATED_ORDERS]
    lines = [(o[0], n, sku, qty, skus[sku][4]) for o in CURATED_ORDERS for n, (sku, qty) in enumerate(o[6], 1)]
    pool = [sku for sku in skus if sku not in SCENARIO_SKUS]
    customer_ids = list(customers)
    for number in range(len(CURATED_ORDERS) + 1, N_ORDERS + 1):
        order = _random_order(rng, f"SO-{number:04d}", rng.choice(customer_ids))
        orders.append(order)
        for line_no, sku_id in enumerate(rng.sample(pool, rng.randint(1, 3)), start=1):
            lines.append((order[0], line_no, sku_id, rng.randint(2, 60), skus[sku_id][4]))
    _insert(conn, "sales_orders", orders)
    _insert(conn, "sales_order_lines", lines)
    totals: dict[str, float] = {}
    for order_id, _, _, quantity, price in lines:
        totals[order_id] = totals.get(order_id, 0.0) + quantity * price
    return [(o[0], o[1], o[3], o[4], round(totals[o[0]], 2)) for o in orders]


def _random_order(rng: random.Random, order_id: str, customer_id: str) -> tuple:
    status = rng.choices(("open", "shipped", "delivered"), weights=(35, 25, 40))[0]
    if status == "open":
        ordered = -rng.randint(0, 20)
        promised = rng.randint(1, 35)
    else:
        ordered = -rng.randint(10, 75)
        promised = min(ordered + rng.randint(3, 14), -1 if status == "delivered" else 7)
    return (order_id, customer_id, rng.choice(DC_IDS), status, _day(ordered), _day(promised))


def _seed_shipments(conn: Conn, rng: random.Random, offers: dict[str, list]) -> None:
    rows, lines = [], []
    for sid, supplier, carrier, mode, country, dc_id, eta, items in CURATED_SHIPMENTS:
        rows.append((sid, supplier, carrier, mode, f"{PORT_CITIES[country]}, {country}", country, dc_id,
                     "in_transit", eta, eta, 0, None))
        lines += [(sid, n, sku, qty) for n, (sku, qty) in enumerate(items, start=1)]
    country_of = {s[0]: s[2] for s in SUPPLIERS}
    sellers = sorted(s for s, items in offers.items() if any(sku not in SCENARIO_SKUS for sku, _ in items))
    for number in range(len(CURATED_SHIPMENTS) + 1, N_SHIPMENTS + 1):
        sid, supplier = f"SH-{number:04d}", rng.choice(sellers)
        rows.append(_random_shipment(rng, sid, supplier, country_of[supplier]))
        choices = sorted(sku for sku, _ in offers[supplier] if sku not in SCENARIO_SKUS)
        for line_no, sku_id in enumerate(rng.sample(choices, min(len(choices), rng.randint(1, 3))), start=1):
            lines.append((sid, line_no, sku_id, rng.randint(20, 400)))
    _insert(conn, "shipments", rows)
    _insert(conn, "shipment_lines", lines)


def _random_shipment(rng: random.Random, shipment_id: str, supplier_id: str, country: str) -> tuple:
    allowed = {"ocean", "rail", "truck", "air"} if country in LAND_COUNTRIES else {"ocean", "air"}
    carriers = [(c[0], sorted(set(c[3].split(",")) & allowed)) for c in CARRIERS]
    carrier_id, modes = rng.choice([c for c in carriers if c[1]])
    status = rng.choices(("in_transit", "delayed", "delivered"), weights=(45, 15, 40))[0]
    delay, reason = 0, None
    if status == "delivered":
        original = eta = -rng.randint(1, 40)
    else:
        original = rng.randint(1, 21) if status == "in_transit" else rng.randint(-2, 10)
        if status == "delayed":
            delay, reason = rng.randint(2, 9), rng.choice(("port congestion", "customs hold", "weather"))
        eta = original + delay
    return (shipment_id, supplier_id, carrier_id, rng.choice(modes), f"{PORT_CITIES[country]}, {country}",
            country, rng.choice(DC_IDS), status, _day(eta), _day(original), delay, reason)


def _seed_purchase_orders(conn: Conn, rng: random.Random, offers: dict[str, list]) -> None:
    lead = {s[0]: s[1] for s in conn.execute("SELECT supplier_id, lead_time_days FROM suppliers WHERE approved = 1")}
    rows, lines = [], []
    for number in range(1, N_POS + 1):
        po_id, supplier = f"PO-{number:05d}", rng.choice(sorted(lead))
        items = rng.sample(offers[supplier], min(len(offers[supplier]), rng.randint(1, 3)))
        po_lines = [(po_id, n, sku, rng.randint(20, 300), price) for n, (sku, price) in enumerate(items, start=1)]
        total = round(sum(q * p for _, _, _, q, p in po_lines), 2)
        ordered = -rng.randint(5, 80)
        status = rng.choices(("received", "issued", "cancelled"), weights=(60, 25, 15))[0]
        rows.append((po_id, supplier, rng.choice(DC_IDS), rng.choice(("CC-OPS", "CC-OPS", "CC-LOG")), status,
                     total, 0, rng.choice(PO_REASONS), APPROVER if total > 25000 else None, f"seed-{po_id}",
                     _day(ordered), _day(ordered + lead[supplier])))
        lines += po_lines
    _insert(conn, "purchase_orders", rows)
    _insert(conn, "purchase_order_lines", lines)


def _seed_billing(conn: Conn, rng: random.Random, orders: list[tuple]) -> None:
    """Invoices for shipped/delivered orders, their payments and a few past refunds."""
    invoices, payments = list(CURATED_INVOICES), list(CURATED_PAYMENTS)
    curated_orders = {inv[2] for inv in CURATED_INVOICES}
    for order_id, customer_id, status, ordered, total in orders:
        if status == "open" or order_id in curated_orders:
            continue
        invoice_id = f"INV-{len(invoices) + 1:04d}"
        issued = date.fromisoformat(ordered) + timedelta(days=1)
        paid = status == "delivered" and rng.random() < 0.85
        invoices.append((invoice_id, customer_id, order_id, total, "paid" if paid else "open", issued.isoformat(),
                         (issued + timedelta(days=30)).isoformat(), None, 0.0))
        if paid:
            paid_on = min(issued + timedelta(days=rng.randint(1, 20)), BUSINESS_DATE - timedelta(days=1))
            payments.append((f"PAY-{len(payments) + 1:04d}", invoice_id, total, paid_on.isoformat(),
                             rng.choice(("card", "wire", "ach"))))
    refunds = _past_refunds(rng, invoices)
    refunded = {r[1] for r in refunds}
    invoices = [inv[:4] + ("partially_refunded",) + inv[5:] if inv[0] in refunded else inv for inv in invoices]
    _insert(conn, "invoices", invoices)
    _insert(conn, "payments", payments)
    _insert(conn, "refunds", refunds)


def _past_refunds(rng: random.Random, invoices: list[tuple]) -> list[tuple]:
    paid = [inv for inv in invoices if inv[4] == "paid"]
    rows = []
    for number, invoice in enumerate(rng.sample(paid, min(3, len(paid))), start=1):
        amount = round(invoice[3] * rng.uniform(0.05, 0.2), 2)
        issued = max(date.fromisoformat(invoice[5]) + timedelta(days=10), BUSINESS_DATE - timedelta(days=20))
        rows.append((f"REF-{number:04d}", invoice[0], amount, "goodwill credit for late delivery", None,
                     min(issued, BUSINESS_DATE).isoformat()))
    return rows


def _seed_tickets(conn: Conn, rng: random.Random, customers: dict[str, str]) -> None:
    rows = list(CURATED_TICKETS)
    customer_ids = list(customers)
    for number in range(len(rows) + 1, N_TICKETS + 1):
        category = rng.choice(sorted(TICKET_TEMPLATES))
        subject, body = TICKET_TEMPLATES[category]
        status = rng.choices(("open", "pending", "resolved", "closed"), weights=(10, 10, 40, 40))[0]
        priority = rng.choices(("low", "normal", "high"), weights=(30, 55, 15))[0]
        rows.append((f"TCK-{number:04d}", rng.choice(customer_ids), subject, body, status, priority, category,
                     _day(-rng.randint(2, 60))))
    _insert(conn, "tickets", rows)


def _seed_backorders(conn: Conn, rng: random.Random) -> None:
    """Open orders that wait on a random inbound shipment because the DC cannot cover them.

    Runs last on its own random stream, so every record above stays as it was. About
    :data:`BACKORDER_SHARE` of the random shipments get one such order: promised one to four
    days after the shipment's ETA (so a longer delay leaves it short), for more than the DC has
    left after the orders due before it. A SKU that two open shipments bring to the same DC is
    never used (the order would wait on both), nor one of :data:`QUIET_SHIPMENTS`.
    """
    customers = [r[0] for r in conn.execute("SELECT customer_id FROM customers ORDER BY customer_id")
                 if r[0] not in {c[0] for c in CURATED_CUSTOMERS}]
    taken = _shared_or_quiet_lines(conn)
    wanted = round(BACKORDER_SHARE * (N_SHIPMENTS - len(CURATED_SHIPMENTS)))
    number = N_ORDERS
    for shipment_id, dc_id, eta in _backorder_candidates(conn, rng):
        line = _backorder_line(conn, shipment_id, dc_id, taken)
        if number - N_ORDERS >= wanted or line is None:
            continue
        sku_id, available = line
        taken.add((dc_id, sku_id))
        number += 1
        promised = (date.fromisoformat(eta) + timedelta(days=rng.randint(1, 4))).isoformat()
        quantity = _backorder_quantity(conn, rng, (dc_id, sku_id), promised, available)
        price = conn.execute("SELECT unit_price FROM skus WHERE sku_id = ?", (sku_id,)).fetchone()[0]
        order_id = f"SO-{number:04d}"
        _insert(conn, "sales_orders", [(order_id, rng.choice(customers), dc_id, "open",
                                        _day(-rng.randint(0, 10)), promised)])
        _insert(conn, "sales_order_lines", [(order_id, 1, sku_id, quantity, price)])


def _backorder_quantity(conn: Conn, rng: random.Random, where: tuple[str, str], promised: str,
                        available: int) -> int:
    """More than the DC has left for the order; for about half, more than other DCs can spare too.

    Those need an expedite purchase order, the others are covered by transfers.
    """
    dc_id, sku_id = where
    demand = "SELECT COALESCE(SUM(l.quantity), 0) FROM sales_orders o JOIN sales_order_lines l USING (order_id) " \
             "WHERE o.status = 'open' AND o.dc_id = ? AND l.sku_id = ?"
    due = conn.execute(demand + " AND o.promised_date <= ?", (dc_id, sku_id, promised)).fetchone()[0]
    quantity = max(available - due, 0) + rng.randint(20, 120)
    if rng.random() < 0.5:
        for other, on_hand, reserved, reorder in conn.execute(
                "SELECT dc_id, on_hand, reserved, reorder_point FROM stock WHERE sku_id = ? AND dc_id != ?",
                (sku_id, dc_id)).fetchall():
            quantity += max(on_hand - reserved - reorder - conn.execute(demand, (other, sku_id)).fetchone()[0], 0)
    return quantity


def _shared_or_quiet_lines(conn: Conn) -> set[tuple[str, str]]:
    """(dc_id, sku_id) pairs a backorder must not use: brought by two open shipments, or by a quiet one."""
    rows = conn.execute("SELECT s.shipment_id, s.dc_id, l.sku_id FROM shipments s JOIN shipment_lines l "
                        "USING (shipment_id) WHERE s.status != 'delivered'").fetchall()
    seen: dict[tuple[str, str], int] = {}
    for _, dc_id, sku_id in rows:
        seen[(dc_id, sku_id)] = seen.get((dc_id, sku_id), 0) + 1
    quiet = {(dc_id, sku_id) for sid, dc_id, sku_id in rows if sid in QUIET_SHIPMENTS}
    return {pair for pair, count in seen.items() if count > 1} | quiet


def _backorder_candidates(conn: Conn, rng: random.Random) -> list[tuple[str, str, str]]:
    """The random, not yet delivered, not quiet shipments in a random order of this seed."""
    curated = {s[0] for s in CURATED_SHIPMENTS}
    rows = [tuple(r) for r in conn.execute(
        "SELECT shipment_id, dc_id, eta FROM shipments WHERE status != 'delivered' ORDER BY shipment_id")
        if r[0] not in curated and r[0] not in QUIET_SHIPMENTS]
    rng.shuffle(rows)
    return rows


def _backorder_line(conn: Conn, shipment_id: str, dc_id: str,
                    taken: set[tuple[str, str]]) -> tuple[str, int] | None:
    """The shipment's SKU the DC has least of (and its available stock), skipping SKUs already used there."""
    rows = conn.execute(
        "SELECT l.sku_id, st.on_hand - st.reserved FROM shipment_lines l JOIN stock st "
        "ON st.sku_id = l.sku_id AND st.dc_id = ? WHERE l.shipment_id = ? ORDER BY 2, 1",
        (dc_id, shipment_id)).fetchall()
    return next(((sku, int(avail)) for sku, avail in rows if (dc_id, sku) not in taken), None)


def _seed_extra_suppliers(conn: Conn) -> None:
    """Suppliers added after the first twenty (fixed data, so earlier records keep their values)."""
    _insert(conn, "suppliers", [row[:9] for row in EXTRA_SUPPLIERS])
    _insert(conn, "supplier_prices", [(row[0], sku, price) for row in EXTRA_SUPPLIERS for sku, price in row[9]])
    _insert(conn, "supplier_performance", [
        (row[0], period, 20, round(20 * row[5]), 0.01) for row in EXTRA_SUPPLIERS
        for period in ("2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1")])
