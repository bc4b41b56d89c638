# METADATA
# title: Naming helpers
# description: >-
#   What the naming rules share: the domain that stands for {domain} in their patterns.
package global.lib.naming

# The domain of the product checked; the contract's own domain when a contract is checked on its
# own (undefined when neither names one).
domain(_) := d if {
	is_object(input.product)
	d := input.product.domain
	_named(d)
}

domain(c) := d if {
	not is_object(input.product)
	d := c.domain
	_named(d)
}

# A pattern parameter with {domain} replaced by the domain of contract c's product; undefined when
# it names {domain} and no domain is known (then no name can be judged against it).
pattern(p, c) := replace(p, "{domain}", domain(c))

pattern(p, _) := p if not contains(p, "{domain}")

_named(d) if {
	is_string(d)
	d != ""
}
