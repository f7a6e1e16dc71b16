"""Background entry points of the data reports: generating a research data set."""

from django.tasks import task

from pars.datareports.research_services import generate_research_export


@task()
def generate_research_export_task(export_id: int) -> str:
    """Build the research data set of one request; returns its status."""
    return generate_research_export(export_id)
