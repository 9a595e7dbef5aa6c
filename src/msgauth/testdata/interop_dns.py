"""A DNS table for the interop scripts (dkim_interop.py, arc_interop.py): load_dns(path) reads one
"NAME<TAB>TXT" line per record and returns a python3-dkim dnsfunc that answers those names and
finds nothing for any other."""


def load_dns(path):
    records = {}
    with open(path, 'rb') as f:
        for line in f:
            line = line.rstrip(b'\r\n')
            if line:
                name, txt = line.split(b'\t', 1)
                records[name.lower().rstrip(b'.')] = txt

    def dnsfunc(name, timeout=5):
        return records.get(name.lower().rstrip(b'.'))

    return dnsfunc
