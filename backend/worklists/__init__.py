"""The daily work list of each collection crew: which gathering points to visit today, in the
order of a route from the crew's depot (docs/worklists.md)."""
