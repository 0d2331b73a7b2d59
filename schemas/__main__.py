"""python -m schemas: regenerate schemas/json/ from the models."""

from ._jsonschema import write_json_schemas

for path in write_json_schemas():
    print(path)
