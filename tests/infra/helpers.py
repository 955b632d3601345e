"""The SAM template and the backfill state machine, read the way CloudFormation would see them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from tests.conftest import REPO_ROOT

INFRA = REPO_ROOT / "infra"
TEMPLATE = INFRA / "template.yaml"
STACK = "tmdb-prod"
ACCOUNT = "123456789012"
LAKE_BUCKET = f"{STACK}-lake-{ACCOUNT}"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def template() -> dict[str, Any]:
    return cfn_yaml.load(str(TEMPLATE))


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template()["Resources"].items()
        if resource["Type"] == kind
    }


def parameter_default(name: str) -> Any:
    return template()["Parameters"][name]["Default"]


def render(value: Any) -> list[str]:
    """An intrinsic as the strings it can become (both branches of an `Fn::If`)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in render(item)]
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Fn::Sub":
            return [arg if isinstance(arg, str) else arg[0]]
        if key == "Ref":
            return [] if arg == "AWS::NoValue" else [f"Ref:{arg}"]
        if key == "Fn::GetAtt":
            return [f"GetAtt:{arg if isinstance(arg, str) else '.'.join(arg)}"]
        if key == "Fn::If":
            return render(arg[1]) + render(arg[2])
    raise AssertionError(f"unexpected intrinsic {value!r}")


SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]


def _resolved(name: str) -> str:
    """What `Ref` gives for a template resource or parameter, with made-up but well-formed ids."""
    resource = template()["Resources"].get(name)
    if resource is None:
        default = template()["Parameters"][name].get("Default")
        return ",".join(SUBNETS) if name == "PrivateSubnetIds" else str(default)
    kind = resource["Type"]
    if kind == "AWS::ECS::TaskDefinition":
        family = render(resource["Properties"]["Family"])[0].replace("${AWS::StackName}", STACK)
        return f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:1"
    if kind == "AWS::SNS::Topic":
        return f"arn:aws:sns:us-east-1:{ACCOUNT}:{STACK}-{name}"
    if kind == "AWS::EC2::SecurityGroup":
        return "sg-0a1b2c3d4e5f60001"
    raise AssertionError(f"no stand-in for Ref {name} ({kind})")


def state_machine_definition(
    overrides: dict[str, str] | None = None, name: str = "BackfillStateMachine"
) -> dict[str, Any]:
    """The state machine's ASL file with DefinitionSubstitutions applied as SAM does (parameter
    defaults, and stand-in ARNs that keep the resource's name)."""
    machine = resources("AWS::Serverless::StateMachine")[name]
    properties = machine["Properties"]
    text = (INFRA / properties["DefinitionUri"]).read_text()
    values = {}
    for key, value in properties["DefinitionSubstitutions"].items():
        if isinstance(value, dict) and "Fn::Join" in value:
            separator, (item,) = value["Fn::Join"][0], [value["Fn::Join"][1]]
            values[key] = _resolved(item["Ref"]).replace(",", separator)
            continue
        (rendered,) = render(value)
        if rendered.startswith("Ref:"):
            rendered = _resolved(rendered[4:])
        elif rendered == "GetAtt:ApiCluster.Arn":
            rendered = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{STACK}-ApiCluster"
        elif rendered.startswith("GetAtt:"):
            rendered = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{rendered[7:]}"
        else:
            rendered = rendered.replace("${AWS::StackName}", STACK).replace(
                "${AWS::AccountId}", ACCOUNT
            )
        values[key] = rendered
    values.update(overrides or {})
    missing = set(PLACEHOLDER.findall(text)) - values.keys()
    assert not missing, f"placeholders without a DefinitionSubstitution: {missing}"
    return json.loads(PLACEHOLDER.sub(lambda m: values[m.group(1)], text))


def path_get(document: Any, path: str) -> Any:
    assert path == "$" or path.startswith("$."), path
    for part in path[2:].split(".") if path != "$" else []:
        document = document[part]
    return document


def select(selector: dict[str, Any], state_input: Any, context: dict[str, Any]) -> Any:
    """Evaluate a Parameters/ItemSelector block whose `.$` fields are paths or intrinsics."""
    out: dict[str, Any] = {}
    for key, value in selector.items():
        if isinstance(value, dict):
            out[key] = select(value, state_input, context)
        elif key.endswith(".$"):
            if value.startswith("States."):
                out[key[:-2]] = intrinsic(value, state_input, context)
            elif value.startswith("$$."):
                out[key[:-2]] = path_get(context, "$." + value[3:])
            else:
                out[key[:-2]] = path_get(state_input, value)
        else:
            out[key] = value
    return out


def repo_path(*parts: str) -> Path:
    return REPO_ROOT.joinpath(*parts)


def _split_args(text: str) -> list[str]:
    args, depth, quoted, current = [], 0, False, ""
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            args.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        args.append(current.strip())
    return args


def intrinsic(expression: str, state_input: Any, context: dict[str, Any] | None = None) -> Any:
    """The few Step Functions intrinsics the state machines use, with their documented
    semantics; `$$.` paths read the context object."""
    expression = expression.strip()
    if expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1]
    if expression in ("true", "false"):
        return expression == "true"
    if re.fullmatch(r"-?\d+", expression):
        return int(expression)
    if expression.startswith("$$."):
        return path_get(context or {}, "$." + expression[3:])
    if expression.startswith("$"):
        return path_get(state_input, expression)
    match = re.fullmatch(r"(States\.\w+)\((.*)\)", expression, re.S)
    assert match, f"not an intrinsic: {expression}"
    name, args = (
        match.group(1),
        [intrinsic(a, state_input, context) for a in _split_args(match.group(2))],
    )
    if name == "States.StringToJson":
        return json.loads(args[0])
    if name == "States.JsonMerge":
        assert args[2] is False, "only shallow merges are modelled"
        return {**args[0], **args[1]}
    if name == "States.MathAdd":
        return args[0] + args[1]
    if name == "States.ArrayRange":
        start, end, step = args
        values = list(range(start, end + 1, step))
        assert len(values) <= 1000, "States.ArrayRange returns at most 1000 items"
        return values
    if name == "States.Array":
        return list(args)
    if name == "States.StringSplit":
        return [part for part in args[0].split(args[1]) if part]
    if name == "States.ArrayGetItem":
        return args[0][args[1]]
    if name == "States.Format":
        template_, *values = args
        pieces = template_.split("{}")
        assert len(pieces) == len(values) + 1, expression
        return "".join(p + str(v) for p, v in zip(pieces, [*values, ""], strict=True))
    raise AssertionError(f"intrinsic not modelled: {name}")


def pass_state(state: dict[str, Any], state_input: Any, context: dict[str, Any]) -> Any:
    """A Pass state's Parameters (with intrinsics) then its OutputPath."""

    def evaluate(selector: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in selector.items():
            if isinstance(value, dict):
                out[key] = evaluate(value)
            elif key.endswith(".$") and value.startswith("States."):
                out[key[:-2]] = intrinsic(value, state_input, context)
            elif key.endswith(".$"):
                out[key[:-2]] = select({key: value}, state_input, context)[key[:-2]]
            else:
                out[key] = value
        return out

    result = evaluate(state["Parameters"]) if "Parameters" in state else state_input
    return path_get(result, state.get("OutputPath", "$"))
