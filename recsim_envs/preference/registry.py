SPECS: list[dict] = []
