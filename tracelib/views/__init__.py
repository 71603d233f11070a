"""Read models: what a page, a trace or a report shows, built from the store's reads.

* :mod:`.stall` — the stall page a shopper's scan opens (the scan JSON) and the standing
  rules (红黑榜);
* :mod:`.lot` — the lot page (GS1 Digital Link ``gs1:pip``);
* :mod:`.board` — a market's public board of the day's rapid tests (公示);
* :mod:`.tracing` — a lot traced backward to its origins and forward to its sales;
* :mod:`.kpi` — the figures a demonstration city is judged by;
* :mod:`.catering` — the canteens a lot reached, and the schools among them;
* :mod:`.standing` — a producer's standing (生产者信用): certificates issued, lots tested
  downstream, failures traced back to its certificates.

No SQL here: every statement is a method of :mod:`tracelib.store`. Nothing here imports
Flask either; where a view links to a record's inclusion proof, the caller passes the URL
template in.
"""
