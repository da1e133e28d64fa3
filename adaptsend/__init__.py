"""adaptsend: a sending agent for batch mail."""
