"""Accuracy table on the fixture photos: every pair, its distance, the decision at the threshold.

    python bench/face_accuracy.py [--threshold 0.5]

Uses the same decoding and encoding as the face worker (auth/face/images.py): EXIF orientation, RGB,
downscale to 800 px, HOG detection, 128-d encoding. Faces of the two-face photo count separately.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACES = ROOT / "tests" / "fixtures" / "faces"
PERSON = {
    "obama_1.jpg": "A",
    "obama_2.jpg": "A",
    "obama_small.jpg": "A",
    "obama_partial_face.jpg": "A",
    "rgba_32bit.png": "A",
    "biden_1.jpg": "B",
    "miranda_1.png": "C",
    "two_people.jpg": "AB",  # faces left to right: A, B (measured)
}


def encodings() -> list[tuple[str, str, object]]:
    import face_recognition

    from auth.face import images as face

    found = []
    for name, people in PERSON.items():
        frame = face.decode((FACES / name).read_bytes(), max_pixels=10**8)
        locations = face_recognition.face_locations(frame.pixels, 0) or face_recognition.face_locations(frame.pixels, 1)
        locations.sort(key=lambda box: box[3])  # left to right
        if len(locations) != len(people):
            print(f"! {name}: expected {len(people)} face(s), found {len(locations)}")
            continue
        for index, (location, person) in enumerate(zip(locations, people, strict=True)):
            label = name if len(people) == 1 else f"{name}#{index + 1}"
            found.append((label, person, face_recognition.face_encodings(frame.pixels, [location], model=face.ENCODING_LANDMARKS)[0]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    from auth.face.images import face_distance

    faces = encodings()
    rows = []
    for (a, pa, ea), (b, pb, eb) in itertools.combinations(faces, 2):
        rows.append((a, b, pa == pb, face_distance(ea, eb)))
    rows.sort(key=lambda row: row[3])
    print(f"threshold {args.threshold} (match when distance <= threshold)\n")
    print(f"{'face 1':26} {'face 2':26} {'truth':9} {'distance':>8}  decision  ok")
    for a, b, same, distance in rows:
        decision = "match" if distance <= args.threshold else "no match"
        ok = (decision == "match") == same
        print(f"{a:26} {b:26} {'same' if same else 'different':9} {distance:8.3f}  {decision:9} {'✓' if ok else '✗ WRONG'}")
    genuine = [d for _, _, s, d in rows if s]
    impostor = [d for _, _, s, d in rows if not s]
    print(f"\nsame person:      {len(genuine)} pairs, distance {min(genuine):.3f}–{max(genuine):.3f}")
    print(f"different people: {len(impostor)} pairs, distance {min(impostor):.3f}–{max(impostor):.3f}")
    for threshold in sorted({0.4, 0.45, args.threshold, 0.55, 0.6}):
        false_rejects = sum(d > threshold for d in genuine)
        false_accepts = sum(d <= threshold for d in impostor)
        print(
            f"at {threshold:.2f}: false rejects {false_rejects}/{len(genuine)}, false accepts {false_accepts}/{len(impostor)}, "
            f"margin to worst genuine {threshold - max(genuine):+.3f}, to closest impostor {min(impostor) - threshold:+.3f}"
        )
    print(
        "\nNote: near-copies (obama_small ≈ obama_1, rgba_32bit ≈ obama_2, two_people.jpg#2 ≈ biden_1) inflate the "
        "'same' side with easy pairs; the informative numbers are the worst genuine pair and the closest impostor."
    )


if __name__ == "__main__":
    main()
