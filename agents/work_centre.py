"""Work-centre bidder: one per work centre in a call for bids, bidding from its own calendar only."""

from opsgraph.agents.base import AgentSpec

WORK_CENTRE = AgentSpec(
    name="work_centre",
    description="Bids for announced production jobs from its own work centre's calendar (MES): can it, by when, "
                "at what cost; declines what it cannot take and says why.",
    prompt="work_centre",
    tools=("quote_bids", "submit_bids", "get_work_centre", "get_job"),
    history="own_turns",
)
