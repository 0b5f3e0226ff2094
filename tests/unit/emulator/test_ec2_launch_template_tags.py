from mlinfra.emulator.patches import ec2_launch_template_tags
from mlinfra.emulator.testing import in_process

INSTANCE_TAGS = {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "ecs"}]}


def _created(aws, endpoint):
    ec2 = aws(endpoint, "ec2")
    ec2.create_launch_template(
        LaunchTemplateName="ecs-lt",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "TagSpecifications": [INSTANCE_TAGS]},
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": "Project", "Value": "mlinfra"}]}
        ],
    )
    template = ec2.describe_launch_templates(LaunchTemplateNames=["ecs-lt"])["LaunchTemplates"][0]
    version = ec2.describe_launch_template_versions(LaunchTemplateName="ecs-lt")[
        "LaunchTemplateVersions"
    ][0]
    return template, version["LaunchTemplateData"]


def test_moto_alone_copies_template_tags_into_launch_data(aws):
    with in_process() as endpoint:
        _, data = _created(aws, endpoint)
    assert "launch-template" in [s["ResourceType"] for s in data["TagSpecifications"]]


def test_launch_data_keeps_only_its_own_tag_specifications(aws):
    with in_process(ec2_launch_template_tags) as endpoint:
        template, data = _created(aws, endpoint)
    assert data["TagSpecifications"] == [INSTANCE_TAGS]
    assert template["Tags"] == [{"Key": "Project", "Value": "mlinfra"}]
