"""The data reports' background task is defined beside its work, in research_services.py;
named here too so tasks queued under this path still run."""

from pars.datareports.research_services import generate_research_export_task

__all__ = ["generate_research_export_task"]
