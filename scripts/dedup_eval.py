#!/usr/bin/env python3
"""How well lookout tells a copy of a story from another story: a labelled set from real
Reuters articles, run through the real binary, scored from its alert log.

usage: dedup_eval.py LOOKOUT_BIN REUTERS_JSONL QUERIES.tsv WORK_DIR [--stories N] [--copies K]
       [--distinct D] [--seed S] [--threshold T]

The set (written to WORK_DIR/articles, in a shuffled order that `lookout ingest` keeps):
- N stories: Reuters articles of at least 3 paragraphs and 80 words, each with K copies made
  with the edits wire copies get, 1 to 3 of them per copy: the headline rewritten, a paragraph
  (not the lead) dropped, a paragraph added (from another article on the same topic), a byline
  or boilerplate line, 2 to 5 words changed; a third of the copies are HTML pages (with a
  navigation bar and a footer) rather than text. The lead's sentences stay in order.
- D distinct articles: other Reuters articles that share a topic label with a story (so they
  match the same saved queries), of any length.

Every file is ingested with `[duplicates] mode = "suppress"` and the saved queries QUERIES.tsv.
Then, from the alert log, per (article, saved query) matched:
- recall: of the copies' records whose story's original (or an earlier copy) matched the same
  query before them, the share that are copy records pointing at an alert of the same story;
- false merges: of the distinct articles' records (and the stories' originals'), the share that
  are copy records (an article taken as a copy of another story); also per article.
Prints one JSON object, and each false merge (titles of both) on stderr.
"""
import html
import json
import os
import random
import re
import subprocess
import sys
import time

args = sys.argv[1:]
lookout, jsonl, queries, work = args[:4]


def opt(name, default, kind=int):
    return kind(args[args.index(name) + 1]) if name in args else default


N = opt("--stories", 400)
K = opt("--copies", 3)
D = opt("--distinct", 1200)
SEED = opt("--seed", 1)
THRESHOLD = opt("--threshold", None, float)
rng = random.Random(SEED)

rows = [json.loads(line) for line in open(jsonl, encoding="utf-8")]
rows = [r for r in rows if (r.get("body") or "").strip()]


def paragraphs(body):
    """Reuters bodies indent each paragraph after the first by four spaces."""
    parts = re.split(r"\n {2,}|\n\s*\n", body.strip())
    return [" ".join(p.split()) for p in parts if p.strip()]


for r in rows:
    r["paras"] = paragraphs(r["body"])
# Reuters itself holds the same story more than once (a story filed again, or under another
# headline): articles whose bodies open with the same 25 words are one story here, whatever
# the detector says. A strict test, independent of the detector's.
group_of = {}
for r in rows:
    key = " ".join(re.findall(r"[a-z0-9]+", r["body"].lower())[:25])
    r["group"] = group_of.setdefault(key, r["id"])
by_topic = {}
for r in rows:
    for t in r.get("topics") or []:
        by_topic.setdefault(t, []).append(r)
stories_pool = [r for r in rows if len(r["paras"]) >= 3 and len(r["body"].split()) >= 80 and r.get("topics")]
stories = rng.sample(stories_pool, min(N, len(stories_pool)))
story_groups = {r["group"] for r in stories}
vocab = [w for r in rng.sample(rows, 500) for w in r["body"].split() if w.isalpha() and len(w) > 3]

BYLINES = ["By Jane Doe, staff correspondent", "By Ahmed Musa and Li Wei",
           "Reporting by Tom Miles in Geneva", "(Reporting by Anna Ringstrom; Editing by Mark Heinrich)",
           "Copyright 1987 Reuters Limited. All rights reserved.",
           "This story has been corrected to fix a typo in the second paragraph."]
HEADLINES = ["UPDATE 1-{}", "{} - SOURCES", "WRAPUP 2-{}", "{} (REFILE)", "ANALYSIS-{}"]


def rewrite_headline(title, paras):
    if rng.random() < 0.5:
        return rng.choice(HEADLINES).format(title)
    words = paras[0].split()[:8]
    return " ".join(words).rstrip(",.;").upper()


def make_copy(story):
    title, paras = story["title"], list(story["paras"])
    edits = rng.sample(["headline", "drop", "add", "byline", "words"], rng.randint(1, 3))
    for edit in edits:
        if edit == "headline":
            title = rewrite_headline(title, paras)
        elif edit == "drop" and len(paras) > 2:
            paras.pop(rng.randrange(1, len(paras)))
        elif edit == "add":
            topic = rng.choice(story["topics"])
            other = rng.choice(by_topic[topic])
            if other["group"] != story["group"] and other["paras"]:
                paras.insert(rng.randint(1, len(paras)), rng.choice(other["paras"]))
        elif edit == "byline":
            line = rng.choice(BYLINES)
            if rng.random() < 0.5:
                paras.insert(0, line)
            else:
                paras.append(line)
        elif edit == "words":
            words = "\n".join(paras).split(" ")
            for _ in range(rng.randint(2, 5)):
                words[rng.randrange(len(words))] = rng.choice(vocab)
            paras = " ".join(words).split("\n")
    as_html = rng.random() < 1 / 3
    return title, paras, edits + (["html"] if as_html else []), as_html


def text_file(title, paras):
    return f"{title}\n\n" + "\n\n".join(paras) + "\n"


def html_file(title, paras):
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paras)
    return (f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
            f"<nav><a href='/'>Home</a> | <a href='/world'>World</a> | <a href='/business'>Business</a></nav>"
            f"<article><h1>{html.escape(title)}</h1>{body}</article>"
            f"<footer>Follow us on social media. Subscribe to our newsletter.</footer></body></html>")


items = []  # (label, kind, title, content, extension, edits)
for s in stories:
    items.append((s["group"], "original", s["title"], text_file(s["title"], s["paras"]), "txt", []))
    for c in range(K):
        title, paras, edits, as_html = make_copy(s)
        content = html_file(title, paras) if as_html else text_file(title, paras)
        items.append((s["group"], "copy", title, content, "html" if as_html else "txt", edits))
distinct_pool = []
seen = set(story_groups)
for s in stories:
    for t in s["topics"]:
        for r in by_topic[t]:
            if r["group"] not in seen:
                seen.add(r["group"])
                distinct_pool.append(r)
for r in rng.sample(distinct_pool, min(D, len(distinct_pool))):
    items.append((r["group"], "distinct", r["title"], text_file(r["title"], r["paras"]), "txt", []))
rng.shuffle(items)

articles = os.path.join(work, "articles")
os.makedirs(articles, exist_ok=True)
by_file = {}
for i, (label, kind, title, content, ext, edits) in enumerate(items):
    name = f"{i:06d}.{ext}"
    with open(os.path.join(articles, name), "w", encoding="utf-8") as f:
        f.write(content)
    by_file[name] = (label, kind, title, edits)

config = os.path.join(work, "config.toml")
threshold = f"threshold = {THRESHOLD}\n" if THRESHOLD is not None else ""
with open(config, "w") as f:
    f.write(f'watch = "watch"\nindex = "index"\nalert_log = "alerts.jsonl"\n'
            f'queries_files = ["{os.path.abspath(queries)}"]\n'
            f'[duplicates]\nmode = "suppress"\n{threshold}')
os.makedirs(os.path.join(work, "watch"), exist_ok=True)
started = time.perf_counter()
run = subprocess.run([lookout, "--config", config, "ingest", articles], capture_output=True, text=True)
elapsed = time.perf_counter() - started
if run.returncode != 0:
    sys.exit(f"lookout ingest failed ({run.returncode}):\n{run.stderr[-4000:]}")

records = [json.loads(line) for line in open(os.path.join(work, "alerts.jsonl"), encoding="utf-8") if line.strip()]
file_of_doc = {}
for r in records:
    file_of_doc[r["doc"]["id"]] = os.path.basename(r["doc"]["path"])


def label_of_alert(alert_id):
    doc = alert_id.rsplit("/d:", 1)[1]
    name = file_of_doc.get(doc)
    return by_file[name][0] if name else None


# Per query, in log order: which stories already have a record for it.
had_record = {}
copies_due = copies_suppressed = copies_wrong = 0
distinct_records = distinct_merged = 0
merged_articles = set()
distinct_articles = set()
missed = []
false = []
for r in records:
    name = os.path.basename(r["doc"]["path"])
    label, kind, title, edits = by_file[name]
    query = r["query"]["name"]
    key = (query, label)
    is_copy = "copy_of" in r
    if kind == "copy" and key in had_record:
        copies_due += 1
        if is_copy and label_of_alert(r["copy_of"]) == label:
            copies_suppressed += 1
        elif is_copy:
            copies_wrong += 1
        else:
            missed.append((name, edits))
    if kind in ("distinct", "original") or (kind == "copy" and key not in had_record):
        distinct_records += 1
        distinct_articles.add(name)
        if is_copy and label_of_alert(r["copy_of"]) != label:
            distinct_merged += 1
            merged_articles.add(name)
            other = file_of_doc.get(r["copy_of"].rsplit("/d:", 1)[1])
            false.append((name, title, other, by_file[other][2] if other else "?"))
    had_record.setdefault(key, True)

for name, title, other, other_title in sorted(set(false)):
    print(f"false merge: {name} {title!r} taken as a copy of {other} {other_title!r}", file=sys.stderr)
missed_by_edit = {}
for _, edits in missed:
    for e in edits:
        missed_by_edit[e] = missed_by_edit.get(e, 0) + 1
result = {
    "stories": len(stories),
    "copies": len(stories) * K,
    "distinct_articles": sum(1 for v in by_file.values() if v[1] == "distinct"),
    "files": len(items),
    "records": len(records),
    "copy_records_due": copies_due,
    "recall": round(copies_suppressed / copies_due, 4) if copies_due else None,
    "copy_records_to_another_story": copies_wrong,
    "distinct_records": distinct_records,
    "false_merge_rate": round(distinct_merged / distinct_records, 4) if distinct_records else None,
    "articles_falsely_merged": len(merged_articles),
    "articles_distinct_with_records": len(distinct_articles),
    "missed_copies_by_edit": missed_by_edit,
    "ingest_s": round(elapsed, 2),
}
print(json.dumps(result))
