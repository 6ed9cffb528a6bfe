import {
  InterfaceVpcEndpoint,
  type InterfaceVpcEndpointAwsService,
  type ISubnet,
  type IVpc,
  Subnet,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import type { VpcSettings } from '../config.js';

/** The VPC of `tally:vpcId` and its subnets, imported into `scope` (ids `Vpc`, `Subnet<i>`). */
export function importVpc(scope: Construct, vpc: VpcSettings): { vpc: IVpc; subnets: ISubnet[] } {
  return {
    vpc: Vpc.fromVpcAttributes(scope, 'Vpc', {
      vpcId: vpc.vpcId,
      availabilityZones: vpc.availabilityZones,
      privateSubnetIds: vpc.subnetIds,
    }),
    subnets: vpc.subnetIds.map((sid, i) => Subnet.fromSubnetId(scope, `Subnet${i}`, sid)),
  };
}

/**
 * The subnets with their route tables, for a gateway endpoint (ids `RouteSubnet<i>`):
 * `tally:routeTableIds` gives one per subnet, or its last serves the rest.
 */
export function routedSubnets(
  scope: Construct,
  subnets: ISubnet[],
  routeTableIds: readonly string[],
): ISubnet[] {
  return subnets.map((s, i) =>
    Subnet.fromSubnetAttributes(scope, `RouteSubnet${i}`, {
      subnetId: s.subnetId,
      routeTableId: routeTableIds[Math.min(i, routeTableIds.length - 1)]!,
    }),
  );
}

/** An interface endpoint with private DNS in the subnets, open only to what is let in after. */
export function privateInterfaceEndpoint(
  scope: Construct,
  id: string,
  vpc: IVpc,
  service: InterfaceVpcEndpointAwsService,
  subnets: ISubnet[],
): InterfaceVpcEndpoint {
  return new InterfaceVpcEndpoint(scope, id, {
    vpc,
    service,
    subnets: { subnets },
    privateDnsEnabled: true,
    open: false,
  });
}
