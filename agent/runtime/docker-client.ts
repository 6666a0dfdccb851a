// The Docker engine of this node: at nodes[].dockerSocket when the config names one, else where
// docker-modem looks by itself (DOCKER_HOST, else /var/run/docker.sock).
import Docker from 'dockerode';

export function dockerClient(node: { dockerSocket?: string }): Docker {
  return node.dockerSocket ? new Docker({ socketPath: node.dockerSocket }) : new Docker();
}
