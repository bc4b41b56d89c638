# METADATA
# title: Finding builders
# description: Every rule builds its findings here, so all findings have the same shape.
package global.lib.result

# A finding located at a key path of the product descriptor.
fail(msg, path) := {"msg": msg, "path": path}

# A finding about one resource (a column, a port, an upstream product) of the descriptor.
fail_on(msg, path, resource) := {"msg": msg, "path": path, "resource": resource}

# A finding located at a key path of a contract file.
contract_fail(contract, msg, path, resource) := {
	"msg": msg,
	"path": path,
	"resource": resource,
	"contract": contract.id,
}
